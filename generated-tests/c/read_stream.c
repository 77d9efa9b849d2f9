/*
 * read_stream: summarise a libxc migration stream.
 *
 * Usage: read_stream FILE|- [OFFSET]
 *
 * Reads a libxc stream that starts OFFSET octets into FILE (standard input
 * when FILE is "-"), using nothing but the generated xg_sr_stream_format.h
 * for the wire layout, and prints one "key value" line per fact. Both byte
 * orders are handled: the image header is big-endian, the rest follows the
 * header's endianness option.
 *
 * Exit status: 0 when END was reached; 1 for a malformed stream or an I/O
 * error (a message on stderr, no summary); 2 for bad usage; 3 when the
 * input ends cleanly between two records before END (summary printed).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xg_sr_stream_format.h"

/* The spelling of a macro's name, for printing it. */
#define NAME_OF(m) #m

/* Distinct record types remembered; more is reported as an error. */
#define MAX_TYPES 64
/* Page types remembered (the type field of a pfn entry is narrower). */
#define MAX_PAGE_TYPES 64

static FILE *in;
static uint64_t pos; /* octets consumed since the start offset */

struct type_count
{
    uint32_t type;
    uint64_t count;
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* Reads an integer of n octets in the given byte order. */
static uint64_t load(const void *p, size_t n, int big)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    size_t i;

    for ( i = 0; i < n; i++ )
        v = (v << 8) | b[big ? i : n - 1 - i];
    return v;
}

#define LOAD(field, big) load(&(field), sizeof(field), (big))

/*
 * Reads exactly n octets. Returns 0 on success, 1 when the input ended
 * before the first octet; fails on a partial read or an error.
 */
static int read_exact(void *buf, size_t n, const char *what)
{
    size_t got = fread(buf, 1, n, in);

    pos += got;
    if ( got == n )
        return 0;
    if ( ferror(in) )
        fail("reading %s at offset %" PRIu64 ": I/O error", what, pos);
    if ( got == 0 )
        return 1;
    fail("%s truncated at offset %" PRIu64 " (%zu of %zu octets)", what, pos,
         got, n);
}

static void skip_input(uint64_t n)
{
    char buf[4096];

    while ( n )
    {
        size_t chunk = n < sizeof(buf) ? (size_t)n : sizeof(buf);

        if ( fread(buf, 1, chunk, in) != chunk )
            fail("input ends before the start offset");
        n -= chunk;
    }
}

int main(int argc, char **argv)
{
    struct xc_sr_ihdr ihdr;
    struct xc_sr_dhdr dhdr;
    struct xc_sr_rhdr rhdr;
    struct type_count types[MAX_TYPES];
    uint64_t page_types[MAX_PAGE_TYPES] = { 0 };
    static const struct
    {
        uint32_t value;
        const char *name;
    } domain_types[] = {
        { DHDR_TYPE_X86_PV, NAME_OF(DHDR_TYPE_X86_PV) },
        { DHDR_TYPE_X86_HVM, NAME_OF(DHDR_TYPE_X86_HVM) },
    };
    const char *domain_type_name = "unknown";
    unsigned int ntypes = 0, type_shift = 0, i;
    uint64_t start = 0, records = 0, page_data_records = 0, pfn_entries = 0;
    uint64_t data_pages = 0, hvm_params_entries = 0;
    uint64_t domain_context_records = 0, domain_context_length = 0;
    uint64_t page_size;
    unsigned char *body = NULL;
    size_t body_cap = 0;
    int big, end_reached = 0;
    uint32_t domain_type;
    unsigned int page_shift;

    if ( argc < 2 || argc > 3 )
    {
        fprintf(stderr, "usage: %s FILE|- [OFFSET]\n", argv[0]);
        return 2;
    }
    if ( argc == 3 )
    {
        char *endp;

        start = strtoull(argv[2], &endp, 0);
        if ( *argv[2] == '\0' || *endp != '\0' )
        {
            fprintf(stderr, "bad offset '%s'\n", argv[2]);
            return 2;
        }
    }
    if ( strcmp(argv[1], "-") == 0 )
    {
        in = stdin;
        skip_input(start);
    }
    else
    {
        in = fopen(argv[1], "rb");
        if ( !in )
            fail("cannot open %s", argv[1]);
        if ( start > (uint64_t)LONG_MAX )
            fail("offset %" PRIu64 " too large", start);
        if ( fseek(in, (long)start, SEEK_SET) != 0 )
            skip_input(start);
    }

    /* The image header is big-endian whatever the stream's byte order. */
    if ( read_exact(&ihdr, sizeof(ihdr), "image header") )
        fail("empty input: no image header");
    if ( LOAD(ihdr.marker, 1) != IHDR_MARKER )
        fail("image header marker is 0x%016" PRIx64 ", not IHDR_MARKER",
             LOAD(ihdr.marker, 1));
    if ( LOAD(ihdr.id, 1) != IHDR_ID )
        fail("image header id is 0x%08" PRIx64 ", not IHDR_ID",
             LOAD(ihdr.id, 1));
    big = (LOAD(ihdr.options, 1) & IHDR_OPT_BIG_ENDIAN) != 0;

    if ( read_exact(&dhdr, sizeof(dhdr), "domain header") )
        fail("no domain header after the image header");
    domain_type = (uint32_t)LOAD(dhdr.type, big);
    for ( i = 0; i < sizeof(domain_types) / sizeof(domain_types[0]); i++ )
        if ( domain_types[i].value == domain_type )
            domain_type_name = domain_types[i].name;
    page_shift = (unsigned int)LOAD(dhdr.page_shift, big);
    if ( page_shift < 9 || page_shift > 30 )
        fail("domain header page_shift %u is out of range", page_shift);
    page_size = (uint64_t)1 << page_shift;

    while ( !((PAGE_DATA_TYPE_MASK >> type_shift) & 1) )
        type_shift++;
    if ( (PAGE_DATA_TYPE_MASK >> type_shift) >= MAX_PAGE_TYPES )
        fail("PAGE_DATA_TYPE_MASK is wider than this reader expects");

    for ( ;; )
    {
        uint64_t at = pos;
        uint32_t type, length, pad;
        char padding[REC_ALIGN];

        if ( read_exact(&rhdr, sizeof(rhdr), "record header") )
            break;
        type = (uint32_t)LOAD(rhdr.type, big);
        length = (uint32_t)LOAD(rhdr.length, big);
        if ( length > REC_LENGTH_MAX )
            fail("record %" PRIu64 " (type 0x%08" PRIx32 ") at offset %" PRIu64
                 ": length %" PRIu32 " exceeds REC_LENGTH_MAX", records, type,
                 at, length);
        if ( length > body_cap )
        {
            unsigned char *nb = realloc(body, length);

            if ( !nb )
                fail("out of memory for a %" PRIu32 "-octet record", length);
            body = nb;
            body_cap = length;
        }
        if ( length && read_exact(body, length, "record body") )
            fail("record %" PRIu64 " at offset %" PRIu64 ": body missing",
                 records, at);
        pad = (REC_ALIGN - length % REC_ALIGN) % REC_ALIGN;
        if ( pad && read_exact(padding, pad, "record padding") )
            fail("record %" PRIu64 " at offset %" PRIu64 ": padding missing",
                 records, at);

        for ( i = 0; i < ntypes; i++ )
            if ( types[i].type == type )
                break;
        if ( i == ntypes )
        {
            if ( ntypes == MAX_TYPES )
                fail("more than %d distinct record types", MAX_TYPES);
            types[ntypes].type = type;
            types[ntypes].count = 0;
            ntypes++;
        }
        types[i].count++;
        records++;

        if ( type == REC_TYPE_PAGE_DATA )
        {
            const struct xc_sr_rec_page_data_header *pd = (const void *)body;
            uint64_t count, fixed, rest, j;

            if ( length < sizeof(*pd) )
                fail("PAGE_DATA at offset %" PRIu64 ": %" PRIu32
                     " octets, shorter than its header", at, length);
            count = LOAD(pd->count, big);
            fixed = sizeof(*pd) + count * sizeof(pd->pfn[0]);
            if ( count == 0 || fixed > length )
                fail("PAGE_DATA at offset %" PRIu64 ": count %" PRIu64
                     " does not fit in %" PRIu32 " octets", at, count, length);
            for ( j = 0; j < count; j++ )
            {
                uint64_t entry = LOAD(pd->pfn[j], big);

                page_types[(entry & PAGE_DATA_TYPE_MASK) >> type_shift]++;
            }
            rest = length - fixed;
            if ( rest % page_size )
                fail("PAGE_DATA at offset %" PRIu64 ": %" PRIu64
                     " octets of page contents is not a whole number of pages",
                     at, rest);
            page_data_records++;
            pfn_entries += count;
            data_pages += rest / page_size;
        }
        else if ( type == REC_TYPE_HVM_PARAMS )
        {
            const struct xc_sr_rec_hvm_params *hp = (const void *)body;
            uint64_t count;

            if ( length < sizeof(*hp) )
                fail("HVM_PARAMS at offset %" PRIu64 ": too short", at);
            count = LOAD(hp->count, big);
            if ( length != sizeof(*hp) + count * sizeof(hp->param[0]) )
                fail("HVM_PARAMS at offset %" PRIu64 ": count %" PRIu64
                     " does not match length %" PRIu32, at, count, length);
            hvm_params_entries += count;
        }
        else if ( type == REC_TYPE_DOMAIN_CONTEXT )
        {
            domain_context_records++;
            domain_context_length += length;
        }
        else if ( type == REC_TYPE_END )
        {
            end_reached = 1;
            break;
        }
    }

    printf("start_offset %" PRIu64 "\n", start);
    printf("version %" PRIu64 "\n", LOAD(ihdr.version, 1));
    printf("endianness %s\n", big ? "big" : "little");
    printf("domain_type %" PRIu32 "\n", domain_type);
    printf("domain_type_name %s\n", domain_type_name);
    printf("page_shift %u\n", page_shift);
    printf("xen_version %" PRIu64 ".%" PRIu64 "\n", LOAD(dhdr.xen_major, big),
           LOAD(dhdr.xen_minor, big));
    printf("records %" PRIu64 "\n", records);
    /* Record types in code order (a selection sort: the table is small). */
    for ( i = 0; i < ntypes; i++ )
    {
        unsigned int j, min = i;
        struct type_count t;

        for ( j = i + 1; j < ntypes; j++ )
            if ( types[j].type < types[min].type )
                min = j;
        t = types[i];
        types[i] = types[min];
        types[min] = t;
        printf("records_0x%08" PRIx32 " %" PRIu64 "\n", types[i].type,
               types[i].count);
    }
    printf("page_data_records %" PRIu64 "\n", page_data_records);
    printf("pfn_entries %" PRIu64 "\n", pfn_entries);
    for ( i = 0; i < MAX_PAGE_TYPES; i++ )
        if ( page_types[i] )
            printf("page_type_0x%x %" PRIu64 "\n", i, page_types[i]);
    printf("data_pages %" PRIu64 "\n", data_pages);
    printf("hvm_params_entries %" PRIu64 "\n", hvm_params_entries);
    printf("domain_context_records %" PRIu64 "\n", domain_context_records);
    printf("domain_context_length %" PRIu64 "\n", domain_context_length);
    printf("end_reached %s\n", end_reached ? "yes" : "no");
    printf("stream_bytes %" PRIu64 "\n", pos);

    free(body);
    if ( in != stdin )
        fclose(in);
    return end_reached ? 0 : 3;
}
