SLOT_short_check
SLOT_unpack
pfn_end = SLOT_fixed + SLOT_count_var * SLOT_psize
if SLOT_count_var == 0 or pfn_end > len(content):
    self._record_error("BadPageCount",
                       "%s: SLOT_count_var %d does not fit a %d-octet body"
                       % (what, SLOT_count_var, len(content)))
SLOT_pfn_list = unpack("%s%dSLOT_pchar" % (self.endian, SLOT_count_var),
              content[SLOT_fixed:pfn_end])
nr_pages = 0
for idx, entry in enumerate(SLOT_pfn_list):
    ptype = entry & SLOT_type_mask
    if ptype not in PAGE_DATA_VALID_TYPES:
        self._record_error("BadPageType",
                           "%s: SLOT_pfn[%d] = 0x%016x has invalid type %d"
                           % (what, idx, entry,
                              ptype >> PAGE_DATA_TYPE_SHIFT),
                           SLOT_fixed + idx * SLOT_psize)
    if ptype not in PAGE_DATA_TYPES_WITHOUT_DATA:
        nr_pages += 1
expected = pfn_end + (nr_pages << PAGE_SHIFT)
SLOT_length_check
SLOT_field_checks
for idx, entry in enumerate(SLOT_pfn_list):
    if entry & SLOT_resz:
        self._record_error(
            "ReservedNonZero",
            "%s: SLOT_pfn[%d] = 0x%016x has reserved bits set"
            % (what, idx, entry), SLOT_fixed + idx * SLOT_psize)
