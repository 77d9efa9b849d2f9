length = len(content) if self.body_length is None else self.body_length
SLOT_short_check
SLOT_unpack
pfn_end = SLOT_fixed + SLOT_count_var * SLOT_psize
if SLOT_count_var == 0 or pfn_end > length:
    self._record_error(KIND_BadPageCount,
                       "%s: SLOT_count_var %d does not fit a %d-octet body"
                       % (what, SLOT_count_var, length))
raw = content[SLOT_fixed:pfn_end]
# The whole array at once, with no Python loop per entry unless it
# is broken: the octets of the entries that hold their types, then
# those that hold reserved bits, each gathered into one string by
# slicing.
little = self.endian == "<"
top = SLOT_psize - 1 if little else 0
kinds = raw[top::SLOT_psize].translate(PAGE_DATA_KIND_OF_TOP)
if PAGE_DATA_INVALID in kinds:
    SLOT_pfn_list = unpack("%s%dSLOT_pchar" % (self.endian, SLOT_count_var), raw)
    for idx, entry in enumerate(SLOT_pfn_list):
        ptype = entry & SLOT_type_mask
        if ptype not in PAGE_DATA_VALID_TYPES:
            self._record_error(
                KIND_BadPageType,
                "%s: SLOT_pfn[%d] = 0x%016x has invalid type %d"
                % (what, idx, entry, ptype >> PAGE_DATA_TYPE_SHIFT),
                SLOT_fixed + idx * SLOT_psize)
nr_pages = kinds.count(PAGE_DATA_WITH_DATA)
expected = pfn_end + (nr_pages << PAGE_SHIFT)
SLOT_length_check
SLOT_field_checks
reserved = False
for octet, clear in PAGE_DATA_RESZ_CLEAR:
    at = octet if little else SLOT_psize - 1 - octet
    if raw[at::SLOT_psize].translate(None, clear):
        reserved = True
if reserved:
    SLOT_pfn_list = unpack("%s%dSLOT_pchar" % (self.endian, SLOT_count_var), raw)
    for idx, entry in enumerate(SLOT_pfn_list):
        if entry & SLOT_resz:
            self._record_error(
                KIND_ReservedNonZero,
                "%s: SLOT_pfn[%d] = 0x%016x has reserved bits set"
                % (what, idx, entry), SLOT_fixed + idx * SLOT_psize)
