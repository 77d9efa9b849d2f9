
"""
The xl save file header: the magic, a byte-order marker, mandatory and
optional flags and optional data (the domain configuration) in front
of the libxl stream. No Xen document specifies it; format-spec's xl
module does. VerifyXl verifies a whole xl save file.
"""

from json import loads as json_loads
from struct import pack, unpack

from xen.migration.verify import StreamError, VerifyBase, prepend
from xen.migration.libxc import VerifyLibxc, IHDR_MARKER
from xen.migration.libxl import VerifyLibxl

#
# Constants
#

SLOT_text_constants
SLOT_constants
#
# Struct formats
#

SLOT_formats
# Size of the magic and the header fields: the optional data starts here.
PREAMBLE_SIZE = len(SLOT_magic) + SLOT_size

# xl's migration protocol messages (tools/xl/xl.h), which a capture of
# `xl migrate` holds after the stream: (name, text, whether the NUL after
# the text is sent, whether a status octet follows).
MIGRATION_MESSAGES = [
    SLOT_migration_messages
]
# The most octets of messages recognised after a stream.
MIGRATION_TRAILER_MAX = SLOT_migration_trailer_max


def migration_messages(data):
    """
    The names of the messages data consists of, one after the other, each
    in its exact wire form; None if it is anything else (or nothing).
    """
    names = []
    while data:
        for name, text, nul, status in MIGRATION_MESSAGES:
            size = len(text) + int(nul) + int(status)
            if (len(data) >= size and data.startswith(text)
                    and (not nul or data[len(text):len(text) + 1] == b"\x00")):
                names.append(name)
                data = data[size:]
                break
        else:
            return None
    return names or None


def verify_migration_trailer(verifier):
    """
    The end of a libxl stream (alone or in an xl file): nothing may follow
    but xl's migration messages, which are named (kind KIND_TrailingData
    otherwise).
    """
    at = verifier.offset
    data = b""
    while len(data) <= MIGRATION_TRAILER_MAX:
        more = verifier.read(MIGRATION_TRAILER_MAX + 1 - len(data))
        if not more:
            break
        data += more
    if not data:
        return
    names = None
    if len(data) <= MIGRATION_TRAILER_MAX:
        names = migration_messages(data)
    if names is None:
        raise StreamError("data follows the end of the stream at offset %d"
                          % (at, ), KIND_TrailingData, at)
    verifier.info("Followed by xl's migration protocol message%s %s: %d "
                  "octets at offset %d"
                  % ("s" if len(names) > 1 else "", ", ".join(names),
                     len(data), at))


# The guest types of libxl's JSON configuration (c_info.type), and the one
# whose restore takes emulator records.
GUEST_TYPES = (SLOT_guest_types)
EMULATOR_GUEST_TYPE = SLOT_emulator_guest_type


def config_guest_type(config):
    """
    The guest type (one of GUEST_TYPES) that the JSON configuration
    ``config`` (NUL-terminated octets) names in c_info.type, or None: no
    configuration, not JSON, or no such type. The libxc stream says X86_HVM
    for a PVH guest as for an HVM one; only this tells them apart.
    """
    if not config or config[-1:] != SLOT_json_end:
        return None
    try:
        kind = json_loads(config[:-1].decode("utf-8"))["c_info"]["type"]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    if kind in GUEST_TYPES:
        return str(kind)
    return None


class VerifyXl(VerifyBase):
    """
    Verify a whole xl save file in strict mode: the xl header (magic,
    byte-order marker, flags, optional data and configuration), then the
    libxl stream with VerifyLibxl or, without the stream-v2 flag, a bare
    libxc stream with VerifyLibxc. Stops after the last END record.
    """

    def __init__(self, info, read):
        VerifyBase.__init__(self, info, read)
        self.endian = None
        self.mandatory_flags = 0
        self.optional_data = b""
        self.config = None
        self.inner = None


    def verify(self):
        """Verify the header and the stream after it."""
        self.verify_hdr()
        if self.mandatory_flags & SLOT_v2:
            self.inner = VerifyLibxl(self.info, self.read)
            if self.mandatory_flags & SLOT_json:
                guest = config_guest_type(self.config)
                self.inner.config_guest = guest
                self.inner.config_takes_emulators = \
                    guest == EMULATOR_GUEST_TYPE
        else:
            at = self.offset
            first = self.rdexact(8)
            if first != pack("!Q", IHDR_MARKER):
                raise StreamError("the xl header lacks the stream-v2 flag and "
                                  "no libxc v2 stream follows at offset %d: "
                                  "a legacy stream" % (at, ),
                                  KIND_LegacyStream, at)
            self.offset = at
            self.inner = VerifyLibxc(self.info, prepend(first, self.read))
        self.inner.offset = self.offset
        self.inner.verify()
        self.offset = self.inner.offset


    def verify_end_of_stream(self):
        """
        Nothing may follow the stream but, after a libxl stream, xl's
        migration messages (a capture of `xl migrate`).
        """
        if isinstance(self.inner, VerifyLibxl):
            verify_migration_trailer(self)
        else:
            VerifyBase.verify_end_of_stream(self)


    def verify_hdr(self):
        SLOT_hdr_doc
        start = self.offset
        magic = self.rdexact(len(SLOT_magic))
        if magic != SLOT_magic:
            raise StreamError("bad xl magic at offset %d: %r" % (start, magic),
                              KIND_BadXlMagic, start)
        base = self.offset
        raw = self.rdexact(SLOT_size)
        if unpack("<SLOT_marker_fmt", SLOT_marker_raw)[0] == SLOT_marker_name:
            self.endian = "<"
        elif unpack(">SLOT_marker_fmt", SLOT_marker_raw)[0] == SLOT_marker_name:
            self.endian = ">"
        else:
            raise StreamError("bad xl byte-order marker %r at offset %d"
                              % (SLOT_marker_raw, base + SLOT_marker_off),
                              "SLOT_marker_kind", base + SLOT_marker_off)
        SLOT_vars = \
            unpack(self.endian + "SLOT_body_fmt", raw)
        SLOT_header_checks
        self.mandatory_flags = SLOT_flags_var
        data_at = self.offset
        self.optional_data = self.rdexact(SLOT_len_var)
        self.config = self._config(data_at)
        SLOT_flag_rules
        json = SLOT_flags_var & SLOT_json
        self.info("Xl Header: %s endian, mandatory flags 0x%x, %d octets of "
                  "optional data%s"
                  % ({"<": "little", ">": "big"}[self.endian], SLOT_flags_var,
                     SLOT_len_var,
                     ", JSON configuration" if json else ""))


    def _config(self, data_at):
        """
        The configuration octets of the optional data (SLOT_cfg_count_name, then
        that many octets; anything after them is skipped), or None when the
        optional data is empty.
        """
        data = self.optional_data
        if not data:
            return None
        if len(data) < SLOT_cfg_fixed:
            raise StreamError("xl optional data at offset %d is %d octets, "
                              "too short for SLOT_cfg_count_name"
                              % (data_at, len(data)),
                              SLOT_cfg_kind, data_at)
        SLOT_cfg_vars = unpack(self.endian + "SLOT_cfg_fmt", data[:SLOT_cfg_fixed])
        if SLOT_cfg_octets > len(data) - SLOT_cfg_fixed:
            raise StreamError("xl SLOT_cfg_count_name %d at offset %d exceeds the %d "
                              "octets of optional data after it"
                              % (SLOT_cfg_count, data_at, len(data) - SLOT_cfg_fixed),
                              SLOT_cfg_kind, data_at)
        return data[SLOT_cfg_fixed:SLOT_cfg_fixed + SLOT_cfg_octets]
