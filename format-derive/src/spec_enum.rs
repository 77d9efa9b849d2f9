//! `#[derive(SpecEnum)]`: numeric enumerations with names per output.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Ident};

use crate::attr::{doc_text, lit_str, lit_u64, Errors, Slot};

struct VariantDef {
    ident: Ident,
    value: u64,
    c: Option<String>,
    py: Option<String>,
    human: String,
    c_note: Option<String>,
    doc: String,
}

fn parse_discriminant(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        _ => None,
    }
}

/// Parse, check and emit.
pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut py_shift = Slot::new("py_shift");
    let mut py_table = Slot::new("py_table");
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("spec")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident("py_shift") {
                let (s, v) = lit_u64(&meta)?;
                if v >= 64 {
                    errors.push(s, "py_shift must be below 64");
                }
                py_shift.set(&mut errors, span, v as u32);
            } else if meta.path.is_ident("py_table") {
                py_table.set(&mut errors, span, lit_str(&meta)?.value());
            } else {
                errors.push(
                    span,
                    "unknown spec enum attribute; expected py_shift or py_table",
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
            "SpecEnum can only be derived for enums",
        ));
    };
    let mut variants: Vec<VariantDef> = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            errors.push(v.ident.span(), "SpecEnum variants carry no data");
        }
        let value = match &v.discriminant {
            Some((_, e)) => match parse_discriminant(e) {
                Some(x) => x,
                None => {
                    errors.push_spanned(e, "discriminant must be an integer literal");
                    0
                }
            },
            None => {
                errors.push(
                    v.ident.span(),
                    "every variant needs an explicit value (`Name = 0x1`)",
                );
                0
            }
        };
        let mut c = Slot::new("c");
        let mut py = Slot::new("py");
        let mut human = Slot::new("human");
        let mut c_note = Slot::new("c_note");
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("spec")) {
            let res = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("c") {
                    c.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("py") {
                    py.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("human") {
                    human.set(&mut errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("c_note") {
                    c_note.set(&mut errors, span, lit_str(&meta)?.value());
                } else {
                    errors.push(
                        span,
                        "unknown spec variant attribute; expected c, py, human or c_note",
                    );
                    crate::attr::skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = res {
                errors.push_err(e);
            }
        }
        if !human.is_set() {
            errors.push(
                v.ident.span(),
                "missing #[spec(human = \"...\")]: every value has a human-readable name",
            );
        }
        if let Some(prev) = variants.iter().find(|p| p.value == value) {
            errors.push(
                v.ident.span(),
                format!("value 0x{value:x} is already used by `{}`", prev.ident),
            );
        }
        variants.push(VariantDef {
            ident: v.ident.clone(),
            value,
            c: c.get(),
            py: py.get(),
            human: human.get().unwrap_or_default(),
            c_note: c_note.get(),
            doc: doc_text(&v.attrs),
        });
    }
    errors.finish()?;

    let ident = &input.ident;
    let name = ident.to_string();
    let doc = doc_text(&input.attrs);
    let shift = py_shift.get().unwrap_or(0);
    let table = match py_table.get() {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    let layouts = variants.iter().map(|v| {
        let rust = v.ident.to_string();
        let value = v.value;
        let c = opt(&v.c);
        let py = opt(&v.py);
        let human = &v.human;
        let c_note = opt(&v.c_note);
        let vdoc = &v.doc;
        quote! {
            ::format_spec::layout::VariantLayout {
                rust_name: #rust, value: #value, c_name: #c, py_name: #py,
                human: #human, c_note: #c_note, doc: #vdoc,
            }
        }
    });
    let arms_to = variants.iter().map(|v| {
        let id = &v.ident;
        let value = v.value;
        quote!(#ident::#id => #value)
    });
    let arms_from = variants.iter().map(|v| {
        let id = &v.ident;
        let value = v.value;
        quote!(#value => ::core::option::Option::Some(#ident::#id))
    });
    Ok(quote! {
        impl ::format_spec::layout::SpecEnum for #ident {
            const LAYOUT: ::format_spec::layout::EnumLayout = ::format_spec::layout::EnumLayout {
                rust_name: #name,
                py_shift: #shift,
                py_table: #table,
                variants: &[#(#layouts),*],
                doc: #doc,
            };

            fn value(self) -> u64 {
                match self { #(#arms_to),* }
            }

            fn from_value(value: u64) -> ::core::option::Option<Self> {
                match value {
                    #(#arms_from,)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    })
}

fn opt(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}
