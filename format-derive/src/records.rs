//! `#[derive(RecordSet)]`: the record table of one stream layer.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{doc_text, lit_str, lit_u64, Errors, Slot};

/// The `length = ...` override of a record.
enum LengthOverride {
    NonEmpty,
    PageData,
    Exact(u64),
}

struct RecordDef {
    ident: Ident,
    body: Option<Type>,
    code: u64,
    name: String,
    human: String,
    c_human: Option<String>,
    spec_body: Option<String>,
    spec_body_doc: Option<String>,
    py: Option<String>,
    optional: bool,
    since: u64,
    deprecated: Option<u64>,
    length: Option<LengthOverride>,
    doc: String,
    /// Where `deprecated` was given (for the version check).
    deprecated_span: Span,
}

/// Parse, check and emit.
pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut c_prefix = Slot::new("c_prefix");
    let mut py_prefix = Slot::new("py_prefix");
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("records")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident("c_prefix") {
                c_prefix.set(&mut errors, span, lit_str(&meta)?.value());
            } else if meta.path.is_ident("py_prefix") {
                py_prefix.set(&mut errors, span, lit_str(&meta)?.value());
            } else {
                errors.push(
                    span,
                    "unknown records attribute; expected c_prefix or py_prefix",
                );
                crate::attr::skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            errors.push_err(e);
        }
    }
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "RecordSet can only be derived for enums",
        ));
    };

    let mut records: Vec<RecordDef> = Vec::new();
    for v in &data.variants {
        let body = match &v.fields {
            Fields::Unit => None,
            Fields::Unnamed(u) if u.unnamed.len() == 1 => Some(u.unnamed[0].ty.clone()),
            _ => {
                errors.push(
                    v.ident.span(),
                    "a record variant is a unit (empty body) or holds exactly one body type",
                );
                None
            }
        };
        let mut code = Slot::new("code");
        let mut name = Slot::new("name");
        let mut human = Slot::new("human");
        let mut c_human = Slot::new("c_human");
        let mut spec_body = Slot::new("spec_body");
        let mut spec_body_doc = Slot::new("spec_body_doc");
        let mut py = Slot::new("py");
        let mut optional = Slot::new("optional");
        let mut since = Slot::new("since");
        let mut deprecated = Slot::new("deprecated");
        let mut length = Slot::new("length");
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("record")) {
            let res = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("code") {
                    let (lit_span, c) = lit_u64(&meta)?;
                    code.set(&mut errors, lit_span, c);
                } else if meta.path.is_ident("name") {
                    let lit = lit_str(&meta)?;
                    // The name becomes a Rust constant and part of the C and
                    // Python names: it must be an identifier.
                    if syn::parse_str::<Ident>(&lit.value()).is_err() {
                        errors.push(
                            lit.span(),
                            "record name must be an identifier (the spec's name, like `PAGE_DATA`)",
                        );
                    }
                    name.set(&mut errors, span, lit.value());
                } else if meta.path.is_ident("human") {
                    human.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("spec_body") {
                    spec_body.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("spec_body_doc") {
                    spec_body_doc.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("c_human") {
                    c_human.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("py") {
                    py.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("optional") {
                    optional.set(&mut errors, span, true);
                } else if meta.path.is_ident("since") {
                    since.set(&mut errors, span, lit_u64(&meta)?.1);
                } else if meta.path.is_ident("deprecated") {
                    deprecated.set(&mut errors, span, lit_u64(&meta)?);
                } else if meta.path.is_ident("length") {
                    let rule: syn::Expr = meta.value()?.parse()?;
                    let parsed = match &rule {
                        syn::Expr::Path(p) if p.path.is_ident("non_empty") => {
                            Some(LengthOverride::NonEmpty)
                        }
                        syn::Expr::Path(p) if p.path.is_ident("page_data") => {
                            Some(LengthOverride::PageData)
                        }
                        syn::Expr::Call(c)
                            if matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("exact"))
                                && c.args.len() == 1 =>
                        {
                            match &c.args[0] {
                                syn::Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Int(i),
                                    ..
                                }) => i.base10_parse().ok().map(LengthOverride::Exact),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    match parsed {
                        Some(p) => length.set(&mut errors, span, p),
                        None => errors.push_spanned(
                            &rule,
                            "length must be `non_empty`, `page_data` or `exact(N)`",
                        ),
                    }
                } else {
                    errors.push(
                        span,
                        "unknown record attribute; expected one of code, name, human, \
                         c_human, spec_body, spec_body_doc, py, optional, since, deprecated, length",
                    );
                    crate::attr::skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = res {
                errors.push_err(e);
            }
        }
        for (slot_set, what) in [
            (code.is_set(), "code = 0x.."),
            (name.is_set(), "name = \"SPEC_NAME\""),
            (human.is_set(), "human = \"...\""),
        ] {
            if !slot_set {
                errors.push(
                    v.ident.span(),
                    format!("missing #[record({what})] on record `{}`", v.ident),
                );
            }
        }
        let optional = optional.get().unwrap_or(false);
        let deprecated = deprecated.get_spanned();
        let deprecated_span = deprecated.map_or(v.ident.span(), |(_, (s, _))| s);
        let (code_span, code) = code.get_spanned().unwrap_or((v.ident.span(), 0));
        if code > u64::from(u32::MAX) {
            errors.push(code_span, "record code does not fit in 32 bits");
        } else if ((code >> 31) & 1 == 1) != optional {
            errors.push(
                code_span,
                "bit 31 of a record code marks it optional: set it exactly when `optional` is given",
            );
        }
        let spec_body_doc = spec_body_doc.get_spanned().map(|(span, doc)| {
            if !spec_body.is_set() {
                errors.push(
                    span,
                    "`spec_body_doc` describes the part named by `spec_body`; give `spec_body` too",
                );
            }
            doc
        });
        let length = length.get_spanned().map(|(span, rule)| {
            if body.is_none() {
                errors.push(
                    span,
                    "a unit record has an empty body; `length` applies to records with a body",
                );
            }
            rule
        });
        records.push(RecordDef {
            ident: v.ident.clone(),
            body,
            code,
            name: name.get().unwrap_or_default(),
            human: human.get().unwrap_or_default(),
            c_human: c_human.get(),
            spec_body: spec_body.get(),
            spec_body_doc,
            py: py.get(),
            optional,
            since: since.get().unwrap_or(2),
            deprecated: deprecated.map(|(_, (_, d))| d),
            length,
            doc: doc_text(&v.attrs),
            deprecated_span,
        });
    }

    // Cross-record checks: unique codes and names, sane versions.
    for (i, r) in records.iter().enumerate() {
        for p in &records[..i] {
            if p.code == r.code {
                errors.push(
                    r.ident.span(),
                    format!(
                        "record code 0x{:x} is already used by `{}`",
                        r.code, p.ident
                    ),
                );
            }
            if !r.name.is_empty() && p.name == r.name {
                errors.push(
                    r.ident.span(),
                    format!("record name {} is already used by `{}`", r.name, p.ident),
                );
            }
        }
        if let Some(d) = r.deprecated {
            if d != 0 && d < r.since {
                errors.push(
                    r.deprecated_span,
                    "a record cannot be deprecated before the version that introduced it",
                );
            }
        }
    }
    errors.finish()?;
    Ok(emit(input, &records, c_prefix.get(), py_prefix.get()))
}

fn emit(
    input: &DeriveInput,
    records: &[RecordDef],
    c_prefix: Option<String>,
    py_prefix: Option<String>,
) -> TokenStream {
    let ident = &input.ident;
    let set_name = ident.to_string();
    let c_prefix = c_prefix.unwrap_or_else(|| "REC_TYPE_".into());
    let py_prefix = py_prefix.unwrap_or_else(|| "REC_TYPE_".into());

    let mut layouts = Vec::new();
    let mut consts = Vec::new();
    let mut code_arms = Vec::new();
    let mut parse_arms = Vec::new();
    let mut write_arms = Vec::new();
    let mut check_arms = Vec::new();
    for r in records {
        let rust = r.ident.to_string();
        let vid = &r.ident;
        let code = r.code as u32;
        let name = &r.name;
        let human = &r.human;
        let c_human = r.c_human.as_ref().unwrap_or(&r.human);
        let spec_body = match &r.spec_body {
            Some(b) => quote!(::core::option::Option::Some(#b)),
            None => quote!(::core::option::Option::None),
        };
        let spec_body_doc = match &r.spec_body_doc {
            Some(b) => quote!(::core::option::Option::Some(#b)),
            None => quote!(::core::option::Option::None),
        };
        let c_name = format!("{c_prefix}{name}");
        let py_name = format!(
            "{py_prefix}{}",
            r.py.clone().unwrap_or_else(|| name.to_lowercase())
        );
        let mandatory = !r.optional;
        let since = r.since as u32;
        let deprecated = match r.deprecated {
            Some(d) => {
                let d = d as u32;
                quote!(::core::option::Option::Some(#d))
            }
            None => quote!(::core::option::Option::None),
        };
        let doc = &r.doc;
        let (body_layout, body_length) = match &r.body {
            Some(t) => (
                quote!(<#t as ::format_spec::body::RecordBody>::BODY_LAYOUT),
                quote!(<#t as ::format_spec::body::RecordBody>::BODY_LENGTH),
            ),
            None => (
                quote!(::core::option::Option::None),
                quote!(::format_spec::layout::LengthRule::Exact(0)),
            ),
        };
        let length = match &r.length {
            None => body_length,
            Some(LengthOverride::NonEmpty) => quote!(::format_spec::layout::LengthRule::NonEmpty),
            Some(LengthOverride::PageData) => quote!(::format_spec::layout::LengthRule::PageData),
            Some(LengthOverride::Exact(n)) => {
                let n = *n as usize;
                quote!(::format_spec::layout::LengthRule::Exact(#n))
            }
        };
        layouts.push(quote! {
            ::format_spec::layout::RecordLayout {
                rust_name: #rust,
                code: #code,
                spec_name: #name,
                human: #human,
                c_human: #c_human,
                spec_body: #spec_body,
                spec_body_doc: #spec_body_doc,
                c_name: #c_name,
                py_name: #py_name,
                mandatory: #mandatory,
                since: #since,
                deprecated: #deprecated,
                body: #body_layout,
                length: #length,
                doc: #doc,
            }
        });
        let const_ident = format_ident!("{}", name);
        let const_doc = format!("Type code of {name} (\"{human}\").");
        consts.push(quote! {
            #[doc = #const_doc]
            pub const #const_ident: u32 = #code;
        });
        match &r.body {
            Some(t) => {
                code_arms.push(quote!(#ident::#vid(_) => #code));
                // A `length` override is a rule of the record, not of the
                // body type (an opaque blob takes any length), so it is
                // enforced here, before the body parser runs.
                let length_check = match &r.length {
                    Some(LengthOverride::NonEmpty) => quote! {
                        if body.is_empty() {
                            return ::core::result::Result::Err(::format_spec::body::BodyError::Empty);
                        }
                    },
                    Some(LengthOverride::Exact(n)) => {
                        let n = *n as usize;
                        quote! {
                            if body.len() != #n {
                                return ::core::result::Result::Err(::format_spec::body::BodyError::Length {
                                    len: body.len(),
                                    expected: #n,
                                });
                            }
                        }
                    }
                    Some(LengthOverride::PageData) | None => quote!(),
                };
                parse_arms.push(quote! {
                    #code => {
                        #length_check
                        <#t as ::format_spec::body::RecordBody>::read_body(body, endian)
                            .map(|b| ::core::option::Option::Some(#ident::#vid(b)))
                    }
                });
                write_arms.push(quote! {
                    #ident::#vid(b) => ::format_spec::body::RecordBody::write_body(b, out, endian)
                });
                check_arms.push(quote! {
                    #ident::#vid(b) => ::format_spec::body::RecordBody::check_body(b)
                });
            }
            None => {
                code_arms.push(quote!(#ident::#vid => #code));
                parse_arms.push(quote! {
                    #code => {
                        if body.is_empty() {
                            ::core::result::Result::Ok(::core::option::Option::Some(#ident::#vid))
                        } else {
                            ::core::result::Result::Err(::format_spec::body::BodyError::Length {
                                len: body.len(),
                                expected: 0,
                            })
                        }
                    }
                });
                write_arms.push(quote!(#ident::#vid => ::core::result::Result::Ok(())));
                check_arms.push(quote!(#ident::#vid => ::core::result::Result::Ok(())));
            }
        }
    }

    quote! {
        impl #ident {
            /// The record table: every record type of this layer, in code order.
            pub const LAYOUT: ::format_spec::layout::RecordSetLayout =
                ::format_spec::layout::RecordSetLayout {
                    rust_name: #set_name,
                    records: &[#(#layouts),*],
                };

            #(#consts)*

            /// The type code of this record.
            pub fn code(&self) -> u32 {
                match self { #(#code_arms),* }
            }

            /// The table entry of this record.
            pub fn layout(&self) -> &'static ::format_spec::layout::RecordLayout {
                Self::LAYOUT
                    .by_code(self.code())
                    .expect("every variant is in the table")
            }

            /// Parses a record body (without padding) of type `code`.
            /// `Ok(None)` means the code is not a record type of this layer.
            pub fn parse_body(
                code: u32,
                body: &[u8],
                endian: ::format_spec::binrw::Endian,
            ) -> ::core::result::Result<::core::option::Option<Self>, ::format_spec::body::BodyError> {
                match code {
                    #(#parse_arms,)*
                    _ => ::core::result::Result::Ok(::core::option::Option::None),
                }
            }

            /// Appends the record body (without header or padding) to `out`.
            pub fn write_body(
                &self,
                out: &mut ::std::vec::Vec<u8>,
                endian: ::format_spec::binrw::Endian,
            ) -> ::core::result::Result<(), ::format_spec::body::BodyError> {
                match self { #(#write_arms),* }
            }

            /// Checks the field constraints of the body (reserved fields,
            /// allowed values).
            pub fn check(&self) -> ::core::result::Result<(), ::format_spec::layout::Violation> {
                match self { #(#check_arms),* }
            }
        }
    }
}
