/*
 * read_stream: summarise a libxc migration stream or a whole xl save file.
 *
 * Usage: read_stream FILE|- [OFFSET]
 *        read_stream --save FILE|-
 *
 * The first form reads a bare libxc stream that starts OFFSET octets into
 * FILE (standard input when FILE is "-"). The second reads a whole file as
 * written by `xl save`: the xl header, the libxl stream, the libxc stream
 * nested in it after LIBXC_CONTEXT, the emulator records and the libxl END.
 *
 * The wire layout comes from the generated headers alone:
 * xg_sr_stream_format.h (libxc stream and DOMAIN_CONTEXT blob) and
 * libxl_sr_stream_format.h (libxl stream). The xl header is not part of
 * either (Xen keeps it in tools/xl/xl.h); the tests write its facts from
 * the description into xl_save_format.h.
 *
 * One "key value" line is printed per fact. Both byte orders are handled.
 * Offsets in messages count from the start of the input (from OFFSET in
 * the first form).
 *
 * Exit status: 0 when the stream's last END was reached; 1 for a malformed
 * stream or an I/O error (a message on stderr; lines printed before the
 * error are no complete summary); 2 for bad
 * usage; 3 when a bare libxc stream ends cleanly between two records
 * before END (summary printed).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xg_sr_stream_format.h"
#include "libxl_sr_stream_format.h"
#include "xl_save_format.h"

/* The spelling of a macro's name, for printing it. */
#define NAME_OF(m) #m
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Distinct record types remembered; more is reported as an error. */
#define MAX_TYPES 64
/* Page types remembered (the type field of a pfn entry is narrower). */
#define MAX_PAGE_TYPES 64

static FILE *in;
static uint64_t pos;    /* octets consumed since the start offset */
static uint64_t origin; /* the start offset */

struct type_count
{
    uint32_t type;
    uint64_t count;
};

/* A value and the name of the macro that defines it. */
struct named
{
    uint32_t value;
    const char *name;
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

static const char *name_of(const struct named *table, size_t n, uint32_t value)
{
    size_t i;

    for ( i = 0; i < n; i++ )
        if ( table[i].value == value )
            return table[i].name;
    return "unknown";
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

/* Reads and drops n octets; fails if the input ends first. */
static void skip_input(uint64_t n, const char *what)
{
    char buf[4096];

    while ( n )
    {
        size_t chunk = n < sizeof(buf) ? (size_t)n : sizeof(buf);

        if ( read_exact(buf, chunk, what) )
            fail("%s missing at offset %" PRIu64, what, pos);
        n -= chunk;
    }
}

/* A growable buffer for record bodies. */
static unsigned char *body;
static size_t body_cap;

static void reserve_body(uint32_t length)
{
    if ( length > body_cap )
    {
        unsigned char *nb = realloc(body, length);

        if ( !nb )
            fail("out of memory for a %" PRIu32 "-octet record", length);
        body = nb;
        body_cap = length;
    }
}

/* 32-bit FNV-1a of n octets, to compare blob contents with the tests. */
static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for ( i = 0; i < n; i++ )
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* ---- The DOMAIN_CONTEXT blob ---- */

static const struct named dc_types[] = {
    { XC_SR_DC_TYPE_END, NAME_OF(XC_SR_DC_TYPE_END) },
    { XC_SR_DC_TYPE_HEADER, NAME_OF(XC_SR_DC_TYPE_HEADER) },
    { XC_SR_DC_TYPE_SHARED_INFO, NAME_OF(XC_SR_DC_TYPE_SHARED_INFO) },
    { XC_SR_DC_TYPE_TSC_INFO, NAME_OF(XC_SR_DC_TYPE_TSC_INFO) },
};

static uint64_t dc_entries; /* entries over all DOMAIN_CONTEXT records */

/*
 * Walks the blob of a DOMAIN_CONTEXT record at offset `at` and prints one
 * line per entry plus its fields (keys dc_<n>_<field>, n counting entries
 * over the whole stream).
 */
static void walk_domain_context(const unsigned char *blob, uint32_t length,
                                int big, uint64_t at)
{
    uint32_t off = 0;
    int first = 1;

    for ( ;; )
    {
        const struct xc_sr_dc_desc *d;
        const unsigned char *b;
        uint32_t type, instance, len;
        uint64_t n = dc_entries;

        if ( length - off < sizeof(*d) )
            fail("DOMAIN_CONTEXT at offset %" PRIu64 ": blob ends at octet %"
                 PRIu32 " without an END entry", at, off);
        d = (const void *)(blob + off);
        type = (uint32_t)LOAD(d->typecode, big);
        instance = (uint32_t)LOAD(d->instance, big);
        len = (uint32_t)LOAD(d->length, big);
        b = blob + off + sizeof(*d);
        if ( len > length - off - sizeof(*d) )
            fail("DOMAIN_CONTEXT at offset %" PRIu64 ": entry %" PRIu64
                 " at octet %" PRIu32 " has length %" PRIu32
                 ", beyond the blob", at, n, off, len);
        if ( len % XC_SR_DC_ALIGN )
            fail("DOMAIN_CONTEXT at offset %" PRIu64 ": entry %" PRIu64
                 " length %" PRIu32 " is not a multiple of XC_SR_DC_ALIGN",
                 at, n, len);
        if ( first != (type == XC_SR_DC_TYPE_HEADER) )
            fail("DOMAIN_CONTEXT at offset %" PRIu64 ": entry %" PRIu64
                 " has type %" PRIu32 "; HEADER must come first and only"
                 " there", at, n, type);
        printf("dc_entry_%" PRIu64 " %s %" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
               n, name_of(dc_types, ARRAY_SIZE(dc_types), type), instance,
               len, off);
        dc_entries++;
        first = 0;

        if ( type == XC_SR_DC_TYPE_END )
            return;
        else if ( type == XC_SR_DC_TYPE_HEADER )
        {
            const struct xc_sr_dc_header *h = (const void *)b;

            if ( len < sizeof(*h) )
                fail("DOMAIN_CONTEXT HEADER too short (%" PRIu32 ")", len);
            if ( LOAD(h->magic, big) != XC_SR_DC_MAGIC )
                fail("DOMAIN_CONTEXT magic 0x%08" PRIx64 " is not XC_SR_DC_MAGIC",
                     LOAD(h->magic, big));
            if ( LOAD(h->version, big) != XC_SR_DC_VERSION )
                fail("DOMAIN_CONTEXT version %" PRIu64 " is not XC_SR_DC_VERSION",
                     LOAD(h->version, big));
            printf("dc_%" PRIu64 "_xen_version %" PRIu64 ".%" PRIu64 "\n", n,
                   LOAD(h->xen_major, big), LOAD(h->xen_minor, big));
            printf("dc_%" PRIu64 "_version %" PRIu64 "\n", n,
                   LOAD(h->version, big));
        }
        else if ( type == XC_SR_DC_TYPE_SHARED_INFO )
        {
            const struct xc_sr_dc_shared_info *s = (const void *)b;
            uint64_t size;

            if ( len < sizeof(*s) )
                fail("DOMAIN_CONTEXT SHARED_INFO too short (%" PRIu32 ")", len);
            size = LOAD(s->buffer_size, big);
            if ( size > len - sizeof(*s) )
                fail("DOMAIN_CONTEXT SHARED_INFO buffer_size %" PRIu64
                     " exceeds its entry", size);
            printf("dc_%" PRIu64 "_flags 0x%" PRIx64 "\n", n, LOAD(s->flags, big));
            printf("dc_%" PRIu64 "_compat %s\n", n,
                   LOAD(s->flags, big) & XC_SR_DC_SHARED_INFO_COMPAT ? "yes" : "no");
            printf("dc_%" PRIu64 "_buffer_size %" PRIu64 "\n", n, size);
            printf("dc_%" PRIu64 "_buffer_fnv 0x%08" PRIx32 "\n", n,
                   fnv1a(s->buffer, (size_t)size));
        }
        else if ( type == XC_SR_DC_TYPE_TSC_INFO )
        {
            const struct xc_sr_dc_tsc_info *t = (const void *)b;

            if ( len < sizeof(*t) )
                fail("DOMAIN_CONTEXT TSC_INFO too short (%" PRIu32 ")", len);
            printf("dc_%" PRIu64 "_mode %" PRIu64 "\n", n, LOAD(t->mode, big));
            printf("dc_%" PRIu64 "_incarnation %" PRIu64 "\n", n,
                   LOAD(t->incarnation, big));
            printf("dc_%" PRIu64 "_elapsed_nsec %" PRIu64 "\n", n,
                   LOAD(t->elapsed_nsec, big));
            printf("dc_%" PRIu64 "_khz %" PRIu64 "\n", n, LOAD(t->khz, big));
        }
        else
            fail("DOMAIN_CONTEXT at offset %" PRIu64 ": entry %" PRIu64
                 " has unknown type %" PRIu32, at, n, type);
        off += sizeof(*d) + len;
    }
}

/* ---- The libxc stream ---- */

/* What the libxc stream held. */
static struct
{
    uint64_t start, end; /* where the stream starts and stops */
    struct xc_sr_ihdr ihdr;
    struct xc_sr_dhdr dhdr;
    struct type_count types[MAX_TYPES];
    uint64_t page_types[MAX_PAGE_TYPES];
    unsigned int ntypes;
    uint64_t records, page_data_records, pfn_entries, data_pages;
    uint64_t hvm_params_entries, domain_context_records;
    uint64_t domain_context_length;
    int big, end_reached;
    uint32_t domain_type;
    unsigned int page_shift;
} lx;

static void count_type(struct type_count *types, unsigned int *ntypes,
                       uint32_t type)
{
    unsigned int i;

    for ( i = 0; i < *ntypes; i++ )
        if ( types[i].type == type )
            break;
    if ( i == *ntypes )
    {
        if ( *ntypes == MAX_TYPES )
            fail("more than %d distinct record types", MAX_TYPES);
        types[i].type = type;
        types[i].count = 0;
        (*ntypes)++;
    }
    types[i].count++;
}

/* Prints the record counts in code order (a selection sort: it is small). */
static void print_types(const char *prefix, struct type_count *types,
                        unsigned int ntypes)
{
    unsigned int i, j;

    for ( i = 0; i < ntypes; i++ )
    {
        unsigned int min = i;
        struct type_count t;

        for ( j = i + 1; j < ntypes; j++ )
            if ( types[j].type < types[min].type )
                min = j;
        t = types[i];
        types[i] = types[min];
        types[min] = t;
        printf("%srecords_0x%08" PRIx32 " %" PRIu64 "\n", prefix, types[i].type,
               types[i].count);
    }
}

/*
 * Reads a libxc stream from the current position up to its END record (or
 * a clean end of input). Returns whether END was reached.
 */
static int read_libxc(void)
{
    unsigned int type_shift = 0;
    uint64_t page_size;
    int big;

    lx.start = pos;
    /* The image header is big-endian whatever the stream's byte order. */
    if ( read_exact(&lx.ihdr, sizeof(lx.ihdr), "image header") )
        fail("no image header at offset %" PRIu64, pos);
    if ( LOAD(lx.ihdr.marker, 1) != IHDR_MARKER )
        fail("image header marker is 0x%016" PRIx64 ", not IHDR_MARKER",
             LOAD(lx.ihdr.marker, 1));
    if ( LOAD(lx.ihdr.id, 1) != IHDR_ID )
        fail("image header id is 0x%08" PRIx64 ", not IHDR_ID",
             LOAD(lx.ihdr.id, 1));
    big = lx.big = (LOAD(lx.ihdr.options, 1) & IHDR_OPT_BIG_ENDIAN) != 0;

    if ( read_exact(&lx.dhdr, sizeof(lx.dhdr), "domain header") )
        fail("no domain header after the image header");
    lx.domain_type = (uint32_t)LOAD(lx.dhdr.type, big);
    lx.page_shift = (unsigned int)LOAD(lx.dhdr.page_shift, big);
    if ( lx.page_shift < 9 || lx.page_shift > 30 )
        fail("domain header page_shift %u is out of range", lx.page_shift);
    page_size = (uint64_t)1 << lx.page_shift;

    while ( !((PAGE_DATA_TYPE_MASK >> type_shift) & 1) )
        type_shift++;
    if ( (PAGE_DATA_TYPE_MASK >> type_shift) >= MAX_PAGE_TYPES )
        fail("PAGE_DATA_TYPE_MASK is wider than this reader expects");

    for ( ;; )
    {
        uint64_t at = pos;
        struct xc_sr_rhdr rhdr;
        uint32_t type, length, pad;
        char padding[REC_ALIGN];

        if ( read_exact(&rhdr, sizeof(rhdr), "record header") )
            break;
        type = (uint32_t)LOAD(rhdr.type, big);
        length = (uint32_t)LOAD(rhdr.length, big);
        if ( length > REC_LENGTH_MAX )
            fail("record %" PRIu64 " (type 0x%08" PRIx32 ") at offset %" PRIu64
                 ": length %" PRIu32 " exceeds REC_LENGTH_MAX", lx.records,
                 type, at, length);
        reserve_body(length);
        if ( length && read_exact(body, length, "record body") )
            fail("record %" PRIu64 " at offset %" PRIu64 ": body missing",
                 lx.records, at);
        pad = (REC_ALIGN - length % REC_ALIGN) % REC_ALIGN;
        if ( pad && read_exact(padding, pad, "record padding") )
            fail("record %" PRIu64 " at offset %" PRIu64 ": padding missing",
                 lx.records, at);

        count_type(lx.types, &lx.ntypes, type);
        lx.records++;

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

                lx.page_types[(entry & PAGE_DATA_TYPE_MASK) >> type_shift]++;
            }
            rest = length - fixed;
            if ( rest % page_size )
                fail("PAGE_DATA at offset %" PRIu64 ": %" PRIu64
                     " octets of page contents is not a whole number of pages",
                     at, rest);
            lx.page_data_records++;
            lx.pfn_entries += count;
            lx.data_pages += rest / page_size;
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
            lx.hvm_params_entries += count;
        }
        else if ( type == REC_TYPE_DOMAIN_CONTEXT )
        {
            lx.domain_context_records++;
            lx.domain_context_length += length;
            walk_domain_context(body, length, big, at);
        }
        else if ( type == REC_TYPE_END )
        {
            lx.end_reached = 1;
            break;
        }
    }
    lx.end = pos;
    return lx.end_reached;
}

static void print_libxc(void)
{
    static const struct named domain_types[] = {
        { DHDR_TYPE_X86_PV, NAME_OF(DHDR_TYPE_X86_PV) },
        { DHDR_TYPE_X86_HVM, NAME_OF(DHDR_TYPE_X86_HVM) },
    };
    unsigned int i;

    printf("start_offset %" PRIu64 "\n", origin + lx.start);
    printf("version %" PRIu64 "\n", LOAD(lx.ihdr.version, 1));
    printf("endianness %s\n", lx.big ? "big" : "little");
    printf("domain_type %" PRIu32 "\n", lx.domain_type);
    printf("domain_type_name %s\n",
           name_of(domain_types, ARRAY_SIZE(domain_types), lx.domain_type));
    printf("page_shift %u\n", lx.page_shift);
    printf("xen_version %" PRIu64 ".%" PRIu64 "\n",
           LOAD(lx.dhdr.xen_major, lx.big), LOAD(lx.dhdr.xen_minor, lx.big));
    printf("records %" PRIu64 "\n", lx.records);
    print_types("", lx.types, lx.ntypes);
    printf("page_data_records %" PRIu64 "\n", lx.page_data_records);
    printf("pfn_entries %" PRIu64 "\n", lx.pfn_entries);
    for ( i = 0; i < MAX_PAGE_TYPES; i++ )
        if ( lx.page_types[i] )
            printf("page_type_0x%x %" PRIu64 "\n", i, lx.page_types[i]);
    printf("data_pages %" PRIu64 "\n", lx.data_pages);
    printf("hvm_params_entries %" PRIu64 "\n", lx.hvm_params_entries);
    printf("domain_context_records %" PRIu64 "\n", lx.domain_context_records);
    printf("domain_context_length %" PRIu64 "\n", lx.domain_context_length);
    printf("dc_entries %" PRIu64 "\n", dc_entries);
    printf("end_reached %s\n", lx.end_reached ? "yes" : "no");
    printf("stream_bytes %" PRIu64 "\n", lx.end - lx.start);
}

/* ---- The xl header and the libxl stream ---- */

/*
 * Reads the optional data of the xl header: the configuration's length
 * (when there is optional data) and whether its last octet is NUL.
 */
static void read_optional_data(uint32_t len, int big, int json)
{
    unsigned char cl[4];
    uint64_t config_len, rest;
    unsigned char last = 1;

    printf("xl_optional_data_len %" PRIu32 "\n", len);
    if ( len == 0 )
    {
        if ( json )
            fail("the JSON flag is set but there is no optional data");
        return;
    }
    if ( len < sizeof(cl) )
        fail("xl optional data of %" PRIu32 " octets has no room for the"
             " configuration length", len);
    if ( read_exact(cl, sizeof(cl), "xl configuration length") )
        fail("xl optional data missing");
    config_len = load(cl, sizeof(cl), big);
    rest = len - sizeof(cl);
    if ( config_len > rest )
        fail("xl configuration length %" PRIu64 " exceeds the optional data"
             " (%" PRIu64 " octets left)", config_len, rest);
    if ( config_len > 1 )
        skip_input(config_len - 1, "xl configuration");
    if ( config_len && read_exact(&last, 1, "xl configuration") )
        fail("xl configuration missing");
    skip_input(rest - config_len, "xl optional data");
    printf("xl_config_len %" PRIu64 "\n", config_len);
    printf("xl_config_nul_terminated %s\n",
           config_len && last == 0 ? "yes" : "no");
}

static const struct named libxl_types[] = {
    { REC_TYPE_END, NAME_OF(REC_TYPE_END) },
    { REC_TYPE_LIBXC_CONTEXT, NAME_OF(REC_TYPE_LIBXC_CONTEXT) },
    { REC_TYPE_EMULATOR_XENSTORE_DATA, NAME_OF(REC_TYPE_EMULATOR_XENSTORE_DATA) },
    { REC_TYPE_EMULATOR_CONTEXT, NAME_OF(REC_TYPE_EMULATOR_CONTEXT) },
    { REC_TYPE_CHECKPOINT_END, NAME_OF(REC_TYPE_CHECKPOINT_END) },
    { REC_TYPE_CHECKPOINT_STATE, NAME_OF(REC_TYPE_CHECKPOINT_STATE) },
};

static const struct named emulators[] = {
    { EMULATOR_UNKNOWN, NAME_OF(EMULATOR_UNKNOWN) },
    { EMULATOR_QEMU_TRADITIONAL, NAME_OF(EMULATOR_QEMU_TRADITIONAL) },
    { EMULATOR_QEMU_UPSTREAM, NAME_OF(EMULATOR_QEMU_UPSTREAM) },
};

/* Prints the key/value pairs of an EMULATOR_XENSTORE_DATA record. */
static void print_xenstore(uint64_t n, const unsigned char *p, uint32_t len,
                           uint64_t at)
{
    uint32_t off = 0, pairs = 0;

    while ( off < len )
    {
        const char *key = (const char *)p + off;
        const void *kend = memchr(p + off, 0, len - off);
        const void *vend;
        const char *value;

        if ( !kend )
            fail("EMULATOR_XENSTORE_DATA at offset %" PRIu64
                 ": key at data octet %" PRIu32 " not NUL-terminated", at, off);
        off = (uint32_t)((const unsigned char *)kend - p) + 1;
        if ( *key == '\0' || *key == '/' )
            fail("EMULATOR_XENSTORE_DATA at offset %" PRIu64
                 ": empty or absolute key", at);
        value = (const char *)p + off;
        vend = off < len ? memchr(p + off, 0, len - off) : NULL;
        if ( !vend )
            fail("EMULATOR_XENSTORE_DATA at offset %" PRIu64
                 ": key '%s' has no NUL-terminated value", at, key);
        off = (uint32_t)((const unsigned char *)vend - p) + 1;
        printf("libxl_emulator_%" PRIu64 "_key_%s %s\n", n, key, value);
        pairs++;
    }
    printf("libxl_emulator_%" PRIu64 "_pairs %" PRIu32 "\n", n, pairs);
}

/* Reads a whole xl save file; returns the exit status. */
static int read_save(void)
{
    unsigned char magic[sizeof(savefileheader_magic)];
    struct xl_save_header xh;
    libxl__sr_hdr hdr;
    struct type_count types[MAX_TYPES];
    unsigned int ntypes = 0;
    uint64_t records = 0, emulator_records = 0, trailing = 0;
    uint32_t mandatory;
    int xl_big, big, end_reached = 0, libxc_seen = 0;
    char buf[4096];
    size_t got;

    /* The xl header: magic, then four fields in the saver's byte order. */
    if ( read_exact(magic, sizeof(magic), "xl magic") )
        fail("empty input: no xl header");
    if ( memcmp(magic, savefileheader_magic, sizeof(magic)) != 0 )
        fail("the first %zu octets are not the xl save file magic",
             sizeof(magic));
    if ( read_exact(&xh, sizeof(xh), "xl header") )
        fail("xl header missing after the magic");
    if ( LOAD(xh.byteorder, 0) == SAVEFILE_BYTEORDER_VALUE )
        xl_big = 0;
    else if ( LOAD(xh.byteorder, 1) == SAVEFILE_BYTEORDER_VALUE )
        xl_big = 1;
    else
        fail("xl byteorder field is not SAVEFILE_BYTEORDER_VALUE in either"
             " byte order");
    mandatory = (uint32_t)LOAD(xh.mandatory_flags, xl_big);
    if ( mandatory & ~(uint32_t)XL_MANDATORY_FLAG_ALL )
        fail("unknown xl mandatory flags 0x%" PRIx32, mandatory);
    printf("format xl\n");
    printf("xl_endianness %s\n", xl_big ? "big" : "little");
    printf("xl_mandatory_flags 0x%" PRIx32 "\n", mandatory);
    printf("xl_optional_flags 0x%" PRIx64 "\n", LOAD(xh.optional_flags, xl_big));
    read_optional_data((uint32_t)LOAD(xh.optional_data_len, xl_big), xl_big,
                       (mandatory & XL_MANDATORY_FLAG_JSON) != 0);
    if ( !(mandatory & XL_MANDATORY_FLAG_STREAMv2) )
        fail("no XL_MANDATORY_FLAG_STREAMv2: a legacy stream follows");

    /* The libxl stream header, always big-endian. */
    printf("libxl_offset %" PRIu64 "\n", pos);
    if ( read_exact(&hdr, sizeof(hdr), "libxl header") )
        fail("no libxl header after the xl header");
    if ( LOAD(hdr.ident, 1) != RESTORE_STREAM_IDENT )
        fail("libxl ident is 0x%016" PRIx64 ", not RESTORE_STREAM_IDENT",
             LOAD(hdr.ident, 1));
    if ( LOAD(hdr.version, 1) != RESTORE_STREAM_VERSION )
        fail("libxl version %" PRIu64 " is not RESTORE_STREAM_VERSION",
             LOAD(hdr.version, 1));
    big = (LOAD(hdr.options, 1) & RESTORE_OPT_BIG_ENDIAN) != 0;
    printf("libxl_version %" PRIu64 "\n", LOAD(hdr.version, 1));
    printf("libxl_endianness %s\n", big ? "big" : "little");
    printf("libxl_legacy %s\n",
           LOAD(hdr.options, 1) & RESTORE_OPT_LEGACY ? "yes" : "no");

    while ( !end_reached )
    {
        uint64_t at = pos;
        libxl__sr_rec_hdr rh;
        uint32_t type, length, pad;
        char padding[REC_ALIGN];

        if ( read_exact(&rh, sizeof(rh), "libxl record header") )
            fail("input ends at offset %" PRIu64 " before the libxl END record",
                 pos);
        type = (uint32_t)LOAD(rh.type, big);
        length = (uint32_t)LOAD(rh.length, big);
        if ( length > REC_LENGTH_MAX )
            fail("libxl record %" PRIu64 " at offset %" PRIu64 ": length %"
                 PRIu32 " exceeds REC_LENGTH_MAX", records, at, length);
        pad = (REC_ALIGN - length % REC_ALIGN) % REC_ALIGN;
        count_type(types, &ntypes, type);
        records++;

        if ( type == REC_TYPE_EMULATOR_XENSTORE_DATA ||
             type == REC_TYPE_EMULATOR_CONTEXT )
        {
            libxl__sr_emulator_hdr eh;
            uint32_t id, rest;
            uint64_t n = emulator_records++;

            if ( length < sizeof(eh) )
                fail("libxl record %" PRIu64 " at offset %" PRIu64 ": %" PRIu32
                     " octets, shorter than libxl__sr_emulator_hdr", records - 1,
                     at, length);
            if ( read_exact(&eh, sizeof(eh), "emulator header") )
                fail("emulator header missing at offset %" PRIu64, pos);
            id = (uint32_t)LOAD(eh.id, big);
            rest = length - (uint32_t)sizeof(eh);
            printf("libxl_emulator_%" PRIu64 " %s %s %" PRIu64 " %" PRIu32 "\n",
                   n, name_of(libxl_types, ARRAY_SIZE(libxl_types), type),
                   name_of(emulators, ARRAY_SIZE(emulators), id),
                   LOAD(eh.index, big), rest);
            if ( type == REC_TYPE_EMULATOR_XENSTORE_DATA )
            {
                reserve_body(rest);
                if ( rest && read_exact(body, rest, "xenstore data") )
                    fail("xenstore data missing at offset %" PRIu64, pos);
                print_xenstore(n, body, rest, at);
            }
            else
                skip_input(rest, "emulator context");
        }
        else if ( type == REC_TYPE_LIBXC_CONTEXT )
        {
            if ( length != 0 )
                fail("LIBXC_CONTEXT at offset %" PRIu64 " has a %" PRIu32
                     "-octet body", at, length);
            if ( libxc_seen )
                fail("a second LIBXC_CONTEXT at offset %" PRIu64, at);
            libxc_seen = 1;
            if ( !read_libxc() )
                fail("the libxc stream ends at offset %" PRIu64
                     " before its END record", pos);
        }
        else if ( type == REC_TYPE_END )
        {
            if ( length != 0 )
                fail("libxl END at offset %" PRIu64 " has a body", at);
            end_reached = 1;
        }
        else if ( type == REC_TYPE_CHECKPOINT_END ||
                  type == REC_TYPE_CHECKPOINT_STATE ||
                  (type & 0x80000000u) /* optional: skipped */ )
            skip_input(length, "libxl record body");
        else
            fail("unknown mandatory libxl record type 0x%08" PRIx32
                 " at offset %" PRIu64, type, at);
        if ( pad && read_exact(padding, pad, "libxl record padding") )
            fail("libxl record at offset %" PRIu64 ": padding missing", at);
    }
    printf("libxl_end_offset %" PRIu64 "\n", pos);
    while ( (got = fread(buf, 1, sizeof(buf), in)) > 0 )
        trailing += got;
    if ( ferror(in) )
        fail("I/O error after the libxl END record");

    if ( libxc_seen )
        print_libxc();
    printf("libxl_records %" PRIu64 "\n", records);
    print_types("libxl_", types, ntypes);
    printf("libxl_emulator_records %" PRIu64 "\n", emulator_records);
    printf("libxl_end_reached yes\n");
    printf("trailing_octets %" PRIu64 "\n", trailing);
    return 0;
}

/* Opens FILE ("-" for standard input) and skips `start` octets. */
static void open_input(const char *file, uint64_t start)
{
    if ( strcmp(file, "-") == 0 )
        in = stdin;
    else
    {
        in = fopen(file, "rb");
        if ( !in )
            fail("cannot open %s", file);
        if ( start > (uint64_t)LONG_MAX )
            fail("offset %" PRIu64 " too large", start);
        if ( start && fseek(in, (long)start, SEEK_SET) == 0 )
            return;
    }
    skip_input(start, "input before the start offset");
    pos = 0;
}

int main(int argc, char **argv)
{
    uint64_t start = 0;
    int status;

    if ( argc == 3 && strcmp(argv[1], "--save") == 0 )
    {
        open_input(argv[2], 0);
        status = read_save();
    }
    else if ( argc == 2 || argc == 3 )
    {
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
        open_input(argv[1], start);
        origin = start;
        status = read_libxc() ? 0 : 3;
        print_libxc();
    }
    else
    {
        fprintf(stderr, "usage: %s FILE|- [OFFSET]\n       %s --save FILE|-\n",
                argv[0], argv[0]);
        return 2;
    }

    free(body);
    if ( in != stdin )
        fclose(in);
    return status;
}
