//! Shared attribute-parsing helpers: an error collector and typed slots.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr};

/// Collects errors so that every problem of an item is reported at once.
#[derive(Default)]
pub struct Errors {
    errors: Option<syn::Error>,
}

impl Errors {
    /// Records an error at a span.
    pub fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push_err(syn::Error::new(span, msg));
    }

    /// Records an error spanning some tokens.
    pub fn push_spanned(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push_err(syn::Error::new_spanned(tokens, msg));
    }

    /// Records an already built error.
    pub fn push_err(&mut self, err: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(err),
            None => self.errors = Some(err),
        }
    }

    /// Ends collection: `Err` with every error if there was any.
    pub fn finish(self) -> syn::Result<()> {
        match self.errors {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// An attribute value that may be set at most once.
pub struct Slot<T> {
    name: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Slot<T> {
    /// An empty slot for the attribute `name`.
    pub fn new(name: &'static str) -> Self {
        Slot { name, value: None }
    }

    /// Sets the value, reporting a duplicate.
    pub fn set(&mut self, errors: &mut Errors, span: Span, value: T) {
        if self.value.is_some() {
            errors.push(span, format!("duplicate `{}` attribute", self.name));
        } else {
            self.value = Some((span, value));
        }
    }

    /// The value, if set.
    pub fn get(self) -> Option<T> {
        self.value.map(|(_, v)| v)
    }

    /// The value and where it was set, if set.
    pub fn get_spanned(self) -> Option<(Span, T)> {
        self.value
    }

    /// True when set.
    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }
}

/// The doc comment text of an item, lines joined by `\n`, with the single
/// space rustdoc puts after `///` removed.
pub fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let v = s.value();
                lines.push(v.strip_prefix(' ').unwrap_or(&v).trim_end().to_string());
            }
        }
    }
    lines.join("\n").trim().to_string()
}

/// Parses `= "string"`.
pub fn lit_str(meta: &syn::meta::ParseNestedMeta) -> syn::Result<LitStr> {
    meta.value()?.parse::<LitStr>()
}

/// Parses `= 123` into a `u64`.
pub fn lit_u64(meta: &syn::meta::ParseNestedMeta) -> syn::Result<(Span, u64)> {
    let lit: syn::LitInt = meta.value()?.parse()?;
    Ok((lit.span(), lit.base10_parse::<u64>()?))
}

/// Consumes the value of an attribute the caller did not recognise
/// (`= expr` or `(...)`), so that one unknown attribute gives one error
/// instead of a second, confusing "expected `,`".
pub fn skip_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}
