#!/usr/bin/env python3
"""
Unit tests of the generated outer-layer modules (xen.migration.libxl and
xen.migration.xl) and of the DOMAIN_CONTEXT blob module
(xen.migration.domain_context).

As in test_libxc_api.py, the expected values come from the Rust
descriptors through the JSON file named by XEN_MIGRATION_EXPECTED, which
also names Xen's API list (upstream-api.md).
"""

import ast
import json
import os
import re
import unittest
from struct import calcsize, pack, unpack

from xen.migration import domain_context, libxc, libxl, xl
from xen.migration.verify import StreamError, RecordError, check_blob, \
    walk_blob

with open(os.environ["XEN_MIGRATION_EXPECTED"]) as _f:
    EXPECTED = json.load(_f)

MODULES = {"libxl": libxl, "xl": xl, "domain_context": domain_context}


class TestAgainstDescriptors(unittest.TestCase):
    """Sizes, names and values against the Rust description."""

    def each(self, section):
        seen = 0
        for modname, want in sorted(EXPECTED["modules"].items()):
            for name, value in sorted(want[section].items()):
                seen += 1
                yield MODULES[modname], name, value
        return seen

    def test_format_sizes(self):
        n = 0
        for mod, name, want in self.each("formats"):
            fmt = getattr(mod, name)
            self.assertEqual(calcsize(fmt), want["size"], name)
            self.assertEqual(len(unpack(fmt, bytes(want["size"]))),
                             want["arity"], name)
            n += 1
        self.assertGreaterEqual(n, 8)

    def test_constants(self):
        n = 0
        for mod, name, value in self.each("constants"):
            self.assertEqual(getattr(mod, name), value, name)
            n += 1
        self.assertGreaterEqual(n, 15)

    def test_text_constants(self):
        n = 0
        for mod, name, octets in self.each("text"):
            got = getattr(mod, name)
            # Struct formats stay str, as struct wants them.
            if isinstance(got, str):
                got = got.encode("ascii")
            self.assertEqual(got, bytes(octets), name)
            n += 1
        self.assertEqual(n, 3)
        self.assertEqual(len(xl.MAGIC), 32)

    def test_records(self):
        want = EXPECTED["modules"]["libxl"]["records"]
        self.assertTrue(want)
        for name, code in want.items():
            self.assertEqual(getattr(libxl, name), code, name)
        self.assertEqual(sorted(libxl.rec_type_to_str), sorted(want.values()))
        self.assertEqual(sorted(libxl.record_verifiers), sorted(want.values()))

    def test_tables(self):
        n = 0
        for mod, table, want in self.each("tables"):
            got = getattr(mod, table)
            self.assertEqual({str(k): v for k, v in got.items()}, want, table)
            n += 1
        self.assertEqual(n, 3)

    def test_enum_values(self):
        n = 0
        for mod, name, value in self.each("enum_values"):
            self.assertEqual(getattr(mod, name), value, name)
            n += 1
        self.assertGreaterEqual(n, 11)

    def test_blob_body_sizes(self):
        want = EXPECTED["dc_body_min"]
        self.assertEqual({str(k): v for k, v in
                          domain_context.DC_BODY_MIN.items()},
                         {k: int(v) for k, v in want.items()})


def _upstream_section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def _literal(s):
    s = s.strip()
    if s.startswith("`") and s.endswith("`"):
        s = s[1:-1]
    return ast.literal_eval(s)


def _same(got, want):
    """Xen's text constants are str; these modules give the octets."""
    if isinstance(got, bytes) and isinstance(want, str):
        return got == want.encode("latin-1")
    return got == want


class TestUpstreamApi(unittest.TestCase):
    """Every name Xen's own code uses (reference/upstream-api.md)."""

    @classmethod
    def setUpClass(cls):
        with open(EXPECTED["upstream_api"]) as f:
            text = f.read()
        cls.libxl_md = _upstream_section(text, "## Python: xen/migration/libxl.py")
        cls.xl_md = _upstream_section(text, "## Python: xen/migration/xl.py")

    def test_libxl_names_and_values(self):
        rows = re.findall(r"^\| `([A-Za-z0-9_]+)` \| (.+?) \|$", self.libxl_md,
                          re.MULTILINE)
        self.assertGreaterEqual(len(rows), 20)
        for name, value in rows:
            self.assertTrue(hasattr(libxl, name), name)
            self.assertTrue(_same(getattr(libxl, name), _literal(value)),
                            (name, getattr(libxl, name), value))

    def test_libxl_dicts(self):
        dicts = re.findall(r"^`(\w+)` \(dict int -> str\): (.+)$", self.libxl_md,
                           re.MULTILINE)
        self.assertEqual(len(dicts), 2)
        for name, body in dicts:
            table = getattr(libxl, name)
            pairs = re.findall(r'(0x[0-9a-f]+): "([^"]*)"', body)
            self.assertEqual(len(table), len(pairs), name)
            for key, value in pairs:
                self.assertEqual(table[int(key, 16)], value, (name, key))

    def test_libxl_methods(self):
        line = re.search(r"^Methods: (.+)$", self.libxl_md, re.MULTILINE).group(1)
        methods = re.findall(r"`(\w+)`", line)
        self.assertIn("verify_record_emulator_xenstore_data", methods)
        for m in methods:
            self.assertTrue(callable(getattr(libxl.VerifyLibxl, m, None)), m)

    def test_xl_names_and_values(self):
        found = re.findall(r"`(\w+) = ([^`]+)`", self.xl_md)
        names = [n for n, _ in found]
        self.assertEqual(names, ["MAGIC", "HEADER_FORMAT",
                                 "MANDATORY_FLAG_STREAMV2"])
        for name, value in found:
            self.assertTrue(_same(getattr(xl, name), _literal(value)),
                            (name, getattr(xl, name), value))
        # "a JSON-config mandatory flag, bit 0"
        self.assertIn("bit 0", self.xl_md)
        self.assertEqual(xl.MANDATORY_FLAG_JSON, 1 << 0)


def _libxl_stream(records, endian="<"):
    """A bare libxl stream: header, then (type, body) records framed."""
    opts = libxl.HDR_OPT_BE if endian == ">" else libxl.HDR_OPT_LE
    out = pack(libxl.HDR_FORMAT, libxl.HDR_IDENT, libxl.HDR_VERSION, opts)
    for rtype, body in records:
        out += pack(endian + libxl.RH_FORMAT, rtype, len(body)) + body
        out += b"\x00" * (-len(body) % libxl.REC_ALIGN)
    return out


def _reader(data):
    pos = [0]

    def read(n):
        chunk = data[pos[0]:pos[0] + n]
        pos[0] += len(chunk)
        return chunk
    return read


def _verify_to_end(v):
    """
    Verify a libxl stream that holds no libxc stream: the strict verifier
    reads every record and refuses its END (nothing to restore).
    """
    try:
        v.verify()
    except StreamError as e:
        if e.kind != "UnexpectedRecord" or "LIBXC_CONTEXT" not in str(e):
            raise
    else:
        raise AssertionError("END without LIBXC_CONTEXT accepted")


class TestBehaviour(unittest.TestCase):
    """What Xen's modules get wrong, done right."""

    def xenstore(self, data, endian="<"):
        body = pack(endian + libxl.EMULATOR_HEADER_FORMAT,
                    libxl.EMULATOR_ID_qemu_upstream, 0) + data
        messages = []
        v = libxl.VerifyLibxl(messages.append, _reader(_libxl_stream(
            [(libxl.REC_TYPE_emulator_xenstore_data, body),
             (libxl.REC_TYPE_end, b"")], endian)))
        _verify_to_end(v)
        return messages

    def test_xenstore_data_on_python_3(self):
        for endian in "<>":
            messages = self.xenstore(b"a/b\x00one\x00c\x00\x00", endian)
            # Xen's verify-stream-v2 words: the header, then each pair.
            self.assertIn("Emulator Xenstore Data (Qemu Upstream, idx 0)",
                          messages)
            self.assertIn("  'a/b' = 'one'", messages)
            self.assertIn("  'c' = ''", messages)

    def test_xenstore_errors_carry_detail(self):
        with self.assertRaises(RecordError) as cm:
            self.xenstore(b"a\x00b\x00c\x00")
        self.assertEqual((cm.exception.kind, cm.exception.detail),
                         ("Xenstore", "OddStringCount"))

    def test_unknown_optional_record_is_refused(self):
        # libxl's reader refuses every record type it does not know, the
        # optional ones (bit 31) too.
        v = libxl.VerifyLibxl(lambda m: None, _reader(_libxl_stream(
            [(0x80001234, b"xyz"), (libxl.REC_TYPE_end, b"")])))
        with self.assertRaises(StreamError) as cm:
            _verify_to_end(v)
        self.assertEqual((cm.exception.kind, cm.exception.offset),
                         ("UnknownOptional", 16))

    def test_unknown_mandatory_record_is_refused(self):
        v = libxl.VerifyLibxl(lambda m: None, _reader(_libxl_stream(
            [(0x1234, b""), (libxl.REC_TYPE_end, b"")])))
        with self.assertRaises(StreamError) as cm:
            v.verify()
        self.assertEqual(cm.exception.kind, "UnknownMandatory")
        self.assertEqual(cm.exception.offset, 16)

    def test_blob_verifier_alone(self):
        e = "<"
        header = pack(e + domain_context.DC_DESC_FORMAT,
                      domain_context.DC_TYPE_header, 0, 16)
        header += pack(e + domain_context.DC_HEADER_FORMAT,
                       domain_context.DC_MAGIC, 4, 17,
                       domain_context.DC_VERSION) + bytes(4)
        end = pack(e + domain_context.DC_DESC_FORMAT,
                   domain_context.DC_TYPE_end, 0, 0)
        entries = domain_context.verify_blob(header + end, e)
        self.assertEqual([x.typecode for x in entries],
                         [domain_context.DC_TYPE_header,
                          domain_context.DC_TYPE_end])
        with self.assertRaises(domain_context.DomainContextError) as cm:
            domain_context.verify_blob(end + header, e)
        self.assertEqual((cm.exception.kind, cm.exception.offset),
                         ("HeaderNotFirst", 0))

    def test_blob_interpreter_follows_a_changed_table(self):
        # The blob rules are data (DC_BLOB, from the Rust description):
        # an entry type added to the table, or a size changed in it, is
        # followed by walk_blob and check_blob with no other change.
        dc = domain_context
        e = "<"

        def blob(typecode, body):
            out = pack(e + dc.DC_DESC_FORMAT, dc.DC_TYPE_header, 0, 16)
            out += pack(e + dc.DC_HEADER_FORMAT, dc.DC_MAGIC, 4, 17,
                        dc.DC_VERSION) + bytes(4)
            out += pack(e + dc.DC_DESC_FORMAT, typecode, 0, len(body)) + body
            return out + pack(e + dc.DC_DESC_FORMAT, dc.DC_TYPE_end, 0, 0)

        def verdict(fmt, data):
            try:
                walked = walk_blob(fmt, data, e, dc._fail)
                entries = check_blob(fmt, data, e, walked, dc._fail)
            except dc.DomainContextError as err:
                return (err.kind, err.offset)
            return [x.typecode for x in entries]

        new_type = dict(dc.DC_ENTRIES)
        new_type[4] = {"format": None, "items": (), "size": ("fixed", (8, )),
                       "min": 8, "once": True}
        names = dict(dc.dc_type_to_str)
        names[4] = "Extra"
        with_4 = dict(dc.DC_BLOB, entries=new_type, names=names)
        self.assertEqual(verdict(dc.DC_BLOB, blob(4, bytes(8))),
                         ("UnknownType", 24))
        self.assertEqual(verdict(with_4, blob(4, bytes(8))), [1, 4, 0])
        self.assertEqual(verdict(with_4, blob(4, b"")), ("BodyTooShort", 24))
        self.assertEqual(verdict(with_4, blob(4, bytes(16))),
                         ("LengthMismatch", 28))

        tsc = dc.DC_TYPE_tsc_info
        bigger = dict(dc.DC_ENTRIES)
        bigger[tsc] = dict(bigger[tsc], size=("fixed", (32, )), min=32)
        tsc_32 = dict(dc.DC_BLOB, entries=bigger)
        self.assertEqual(verdict(dc.DC_BLOB, blob(tsc, bytes(24))),
                         [1, tsc, 0])
        self.assertEqual(verdict(tsc_32, blob(tsc, bytes(24))),
                         ("BodyTooShort", 24))
        self.assertEqual(verdict(tsc_32, blob(tsc, bytes(32))), [1, tsc, 0])
        self.assertEqual(verdict(dc.DC_BLOB, blob(tsc, bytes(32))),
                         ("LengthMismatch", 28))


if __name__ == "__main__":
    unittest.main()
