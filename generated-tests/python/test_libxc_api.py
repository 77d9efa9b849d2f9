#!/usr/bin/env python3
"""
Unit tests of the generated xen.migration package.

The expected values do not come from this file: the Rust test writes them
from the format-spec descriptors into the JSON file named by the environment
variable XEN_MIGRATION_EXPECTED, and names Xen's API list (upstream-api.md)
in the same file. Run with the generated package on PYTHONPATH.
"""

import json
import os
import re
import unittest
from struct import calcsize, pack, unpack

from xen.migration import libxc, verify
from xen.migration.verify import StreamError, RecordError, VerifyBase

with open(os.environ["XEN_MIGRATION_EXPECTED"]) as _f:
    EXPECTED = json.load(_f)


class TestAgainstDescriptors(unittest.TestCase):
    """Sizes, names and values against the Rust description."""

    def test_format_sizes(self):
        self.assertTrue(EXPECTED["formats"])
        for name, want in sorted(EXPECTED["formats"].items()):
            fmt = getattr(libxc, name)
            self.assertEqual(calcsize(fmt), want["size"], name)
            # Xen's tools pack these positionally: the arity is API.
            self.assertEqual(len(unpack(fmt, bytes(want["size"]))),
                             want["arity"], name)

    def test_constants(self):
        self.assertTrue(EXPECTED["constants"])
        for name, value in sorted(EXPECTED["constants"].items()):
            self.assertEqual(getattr(libxc, name), value, name)

    def test_record_types(self):
        for name, code in EXPECTED["records"].items():
            self.assertEqual(getattr(libxc, name), code, name)
        self.assertEqual(sorted(libxc.rec_type_to_str),
                         sorted(EXPECTED["records"].values()))
        self.assertEqual(sorted(libxc.record_verifiers),
                         sorted(EXPECTED["records"].values()))

    def test_tables(self):
        for table, want in EXPECTED["tables"].items():
            got = getattr(libxc, table)
            self.assertEqual({str(k): v for k, v in got.items()}, want, table)

    def test_enum_values(self):
        for name, value in EXPECTED["enum_values"].items():
            self.assertEqual(getattr(libxc, name), value, name)


def _upstream_section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def _literal(s):
    s = s.strip()
    if s.startswith("`") and s.endswith("`"):
        s = s[1:-1]
    if s[0] in "'\"":
        return s[1:-1]
    return int(s, 0)


class TestUpstreamApi(unittest.TestCase):
    """Every name Xen's own code uses (reference/upstream-api.md)."""

    @classmethod
    def setUpClass(cls):
        with open(EXPECTED["upstream_api"]) as f:
            text = f.read()
        cls.libxc_md = _upstream_section(text, "## Python: xen/migration/libxc.py")
        cls.verify_md = _upstream_section(text, "## Python: xen/migration/verify.py")

    def test_names_and_values(self):
        rows = re.findall(r"^\| `([A-Za-z0-9_]+)` \| (.+?) \|$", self.libxc_md,
                          re.MULTILINE)
        self.assertGreater(len(rows), 50)
        for name, value in rows:
            self.assertTrue(hasattr(libxc, name), name)
            self.assertEqual(getattr(libxc, name), _literal(value), name)

    def test_dicts(self):
        dicts = re.findall(r"^`(\w+)` \(dict int -> str\): (.+)$", self.libxc_md,
                           re.MULTILINE)
        self.assertEqual(len(dicts), 2)
        for name, body in dicts:
            table = getattr(libxc, name)
            for key, value in re.findall(r'(0x[0-9a-f]+): "([^"]*)"', body):
                self.assertEqual(table[int(key, 16)], value, (name, key))

    def test_methods(self):
        line = re.search(r"^Methods: (.+)$", self.libxc_md, re.MULTILINE).group(1)
        methods = re.findall(r"`(\w+)`", line)
        self.assertIn("verify_record_x86_pv_vcpu_generic", methods)
        for m in methods:
            self.assertTrue(callable(getattr(libxc.VerifyLibxc, m, None)), m)

    def test_v4_additions(self):
        self.assertEqual(libxc.REC_TYPE_domain_context, 0x13)
        self.assertEqual(libxc.rec_type_to_str[0x13], "Domain context")
        self.assertIn(0x13, libxc.record_verifiers)

    def test_verify_module(self):
        for name in re.findall(r"`(\w+)\(Exception\)`", self.verify_md):
            self.assertTrue(issubclass(getattr(verify, name), Exception), name)
        self.assertTrue(issubclass(libxc.VerifyLibxc, VerifyBase))


class TestVerifyBase(unittest.TestCase):
    """The reading machinery of verify.py."""

    def test_truncated(self):
        data = [b"abc"]
        base = VerifyBase(lambda m: None, lambda n: data.pop() if data else b"")
        with self.assertRaises(IOError) as cm:
            base.rdexact(4)
        self.assertEqual(str(cm.exception), "Stream truncated")
        self.assertEqual(cm.exception.kind, "Truncated")

    def test_short_reads_are_retried(self):
        src = bytearray(pack("<II", 7, 9))

        def read(n):
            chunk = bytes(src[:1])
            del src[:1]
            return chunk

        base = VerifyBase(lambda m: None, read)
        self.assertEqual(base.unpack_exact("<II"), (7, 9))
        self.assertEqual(base.offset, 8)

    def test_errors_carry_kind(self):
        e = StreamError("x", "BadId", 8)
        self.assertEqual((e.kind, e.offset, str(e)), ("BadId", 8, "x"))
        self.assertEqual(RecordError("plain").kind, None)


class TestRecordVerifiers(unittest.TestCase):
    """record_verifiers entries work when called on their own."""

    def verifier(self, endian="<"):
        v = libxc.VerifyLibxc(lambda m: None, lambda n: b"")
        v.endian = endian
        return v

    def test_pv_info(self):
        check = libxc.record_verifiers[libxc.REC_TYPE_x86_pv_info]
        check(self.verifier(), pack(libxc.X86_PV_INFO_FORMAT, 8, 4, 0, 0))
        with self.assertRaises(RecordError) as cm:
            check(self.verifier(), pack(libxc.X86_PV_INFO_FORMAT, 2, 4, 0, 0))
        self.assertEqual(cm.exception.kind, "BadValue")
        with self.assertRaises(RecordError) as cm:
            check(self.verifier(), pack(libxc.X86_PV_INFO_FORMAT, 8, 4, 0, 1))
        self.assertEqual(cm.exception.kind, "ReservedNonZero")

    def test_big_endian_hvm_params(self):
        check = libxc.record_verifiers[libxc.REC_TYPE_hvm_params]
        body = pack(">" + libxc.HVM_PARAMS_FORMAT, 1, 0) + pack(">QQ", 2, 3)
        check(self.verifier(">"), body)
        with self.assertRaises(RecordError) as cm:
            check(self.verifier("<"), body)
        self.assertEqual(cm.exception.kind, "BadLength")

    def test_vcpu_generic_names_the_record(self):
        check = libxc.record_verifiers[libxc.REC_TYPE_x86_pv_vcpu_xsave]
        with self.assertRaises(RecordError) as cm:
            check(self.verifier(), b"\0" * 4)
        self.assertIn("X86_PV_VCPU_XSAVE", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
