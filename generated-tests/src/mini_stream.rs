//! A libxc stream written for the C tests, with the facts the C reader is
//! expected to report about it.
//!
//! The octets come from [`format_spec::stream::StreamWriter`] (which frames
//! the records and refuses anything the strict verifier would); this
//! module only keeps count of what went in.

use std::collections::BTreeMap;

use format_spec::layout::SpecEnum;
use format_spec::libxc::{DomainType, LibxcRecord, PfnEntry, PAGE_SHIFT, PAGE_SIZE};
use format_spec::stream::{StreamError, StreamWriter, WriterOptions};

use crate::summary::{page_type_key, record_key, Summary};

/// What a written stream holds, as the C reader should summarise it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Image header version.
    pub version: u32,
    /// True for a big-endian stream.
    pub big_endian: bool,
    /// Domain header guest type.
    pub domain_type: u32,
    /// Domain header page shift.
    pub page_shift: u16,
    /// Domain header Xen version.
    pub xen_major: u32,
    /// Domain header Xen version.
    pub xen_minor: u32,
    /// Records written per type code.
    pub records: BTreeMap<u32, u64>,
    /// pfn entries over all PAGE_DATA records.
    pub pfn_entries: u64,
    /// pfn entries per page type.
    pub page_types: BTreeMap<u64, u64>,
    /// Page contents over all PAGE_DATA records.
    pub data_pages: u64,
    /// Entries over all HVM_PARAMS records.
    pub hvm_params_entries: u64,
    /// Body octets over all DOMAIN_CONTEXT records.
    pub domain_context_length: u64,
    /// Whether END was written.
    pub end: bool,
    /// Octets from the image header to the end of the last record.
    pub stream_bytes: u64,
}

impl Facts {
    /// The summary the C reader should print for this stream read from
    /// `start_offset`.
    pub fn expected_summary(&self, start_offset: u64) -> Summary {
        let mut s = Summary::new();
        let mut put = |k: &str, v: String| {
            s.insert(k.to_string(), v);
        };
        put("start_offset", start_offset.to_string());
        put("version", self.version.to_string());
        let endianness = if self.big_endian { "big" } else { "little" };
        put("endianness", endianness.to_string());
        put("domain_type", self.domain_type.to_string());
        let type_name = DomainType::LAYOUT
            .variant(u64::from(self.domain_type))
            .and_then(|v| v.c_name)
            .unwrap_or("unknown");
        put("domain_type_name", type_name.to_string());
        put("page_shift", self.page_shift.to_string());
        put(
            "xen_version",
            format!("{}.{}", self.xen_major, self.xen_minor),
        );
        put("records", self.records.values().sum::<u64>().to_string());
        for (code, n) in &self.records {
            put(&record_key(*code), n.to_string());
        }
        let page_data = self
            .records
            .get(&LibxcRecord::PAGE_DATA)
            .copied()
            .unwrap_or(0);
        put("page_data_records", page_data.to_string());
        put("pfn_entries", self.pfn_entries.to_string());
        for (t, n) in &self.page_types {
            put(&page_type_key(*t), n.to_string());
        }
        put("data_pages", self.data_pages.to_string());
        put("hvm_params_entries", self.hvm_params_entries.to_string());
        let dc = self
            .records
            .get(&LibxcRecord::DOMAIN_CONTEXT)
            .copied()
            .unwrap_or(0);
        put("domain_context_records", dc.to_string());
        put(
            "domain_context_length",
            self.domain_context_length.to_string(),
        );
        put(
            "end_reached",
            if self.end { "yes" } else { "no" }.to_string(),
        );
        put("stream_bytes", self.stream_bytes.to_string());
        s
    }
}

/// A libxc stream being written into memory by a [`StreamWriter`], with
/// its facts.
#[derive(Debug)]
pub struct MiniStream {
    writer: StreamWriter<Vec<u8>>,
    facts: Facts,
}

impl MiniStream {
    /// Starts a stream as `opts` describes (its `base_offset` must be 0:
    /// the stream is the whole output); writes the image and domain
    /// headers.
    pub fn new(opts: WriterOptions) -> Result<Self, StreamError> {
        let writer = StreamWriter::new(Vec::new(), opts)?;
        let facts = Facts {
            version: opts.version,
            big_endian: opts.endian == format_spec::binrw::Endian::Big,
            domain_type: opts.domain as u32,
            page_shift: PAGE_SHIFT,
            xen_major: opts.xen_major,
            xen_minor: opts.xen_minor,
            ..Facts::default()
        };
        Ok(MiniStream { writer, facts })
    }

    /// Writes one record (not END: see [`finish`](Self::finish)) and, once
    /// the writer has accepted it, notes its facts.
    pub fn record(&mut self, rec: &LibxcRecord) -> Result<(), StreamError> {
        self.writer.write(rec)?;
        match rec {
            LibxcRecord::PageData(pd) => {
                self.facts.pfn_entries += pd.header.pfn.len() as u64;
                for e in &pd.header.pfn {
                    let t = u64::from(PfnEntry(*e).type_bits());
                    *self.facts.page_types.entry(t).or_default() += 1;
                }
                self.facts.data_pages += (pd.pages.len() / PAGE_SIZE) as u64;
            }
            LibxcRecord::HvmParams(p) => self.facts.hvm_params_entries += p.param.len() as u64,
            LibxcRecord::DomainContext(blob) => {
                self.facts.domain_context_length += blob.0.len() as u64
            }
            _ => {}
        }
        *self.facts.records.entry(rec.code()).or_default() += 1;
        Ok(())
    }

    /// Writes END and returns the stream and its facts.
    pub fn finish(mut self) -> Result<(Vec<u8>, Facts), StreamError> {
        *self.facts.records.entry(LibxcRecord::END).or_default() += 1;
        self.facts.end = true;
        let bytes = self.writer.finish()?;
        self.facts.stream_bytes = bytes.len() as u64;
        Ok((bytes, self.facts))
    }

    /// Returns the stream written so far, without END, and its facts.
    pub fn unfinished(mut self) -> (Vec<u8>, Facts) {
        let bytes = std::mem::take(self.writer.get_mut());
        self.facts.stream_bytes = bytes.len() as u64;
        (bytes, self.facts)
    }
}
