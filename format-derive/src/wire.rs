//! `#[derive(Wire)]`: parse -> check -> emit for header and body structs.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Ident, Type};

use crate::attr::{doc_text, lit_str, Errors, Slot};

/// The primitive integer types a field may have.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prim {
    U8,
    U16,
    U32,
    U64,
}

impl Prim {
    fn from_ident(id: &Ident) -> Option<Prim> {
        Some(match id.to_string().as_str() {
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Prim::U8 => 1,
            Prim::U16 => 2,
            Prim::U32 => 4,
            Prim::U64 => 8,
        }
    }

    fn tokens(self) -> TokenStream {
        match self {
            Prim::U8 => quote!(::format_spec::layout::Prim::U8),
            Prim::U16 => quote!(::format_spec::layout::Prim::U16),
            Prim::U32 => quote!(::format_spec::layout::Prim::U32),
            Prim::U64 => quote!(::format_spec::layout::Prim::U64),
        }
    }
}

/// The shape of a field's Rust type.
enum Shape {
    Prim(Prim),
    Array(Prim, usize),
    VecPrim(Prim),
    VecStruct(Box<Type>),
}

impl Shape {
    fn is_trailing(&self) -> bool {
        matches!(self, Shape::VecPrim(_) | Shape::VecStruct(_))
    }

    /// Size within the fixed part and alignment, when known at expansion time.
    fn fixed_size(&self) -> usize {
        match self {
            Shape::Prim(p) => p.size(),
            Shape::Array(p, n) => p.size() * n,
            _ => 0,
        }
    }
}

enum Constraint {
    None,
    Reserved,
    Equals(Expr),
    OneOf(Vec<Expr>),
    /// `one_of = PATH`: a constant array of integers named elsewhere.
    OneOfConst(syn::Path),
    Values(Type),
    ReservedBits(Expr),
    /// `at_most = EXPR`: an upper bound on the value.
    AtMost(Expr),
}

struct FieldDef {
    ident: Ident,
    shape: Shape,
    constraint: Constraint,
    count: Option<Ident>,
    /// The KIND a broken value rule of the field reports (`error = "..."`).
    error: Option<String>,
    /// Lenient mode reports a broken rule too: value rules by default, a
    /// reserved rule annotated `lenient`.
    lenient: bool,
    /// How the spec's octet diagram shows the field: `spec`, `label`,
    /// `symbol`, `first`, `last` (see `format_spec::layout::FieldDiagram`).
    diagram: [Option<String>; 5],
    doc: String,
    span: Span,
}

/// The diagram attributes of a field, in the order of `FieldDef::diagram`.
const DIAGRAM_ATTRS: [&str; 5] = ["spec", "label", "symbol", "first", "last"];

#[derive(Clone, Copy)]
enum Order {
    Big,
    Stream,
    Native,
}

struct StructDef {
    ident: Ident,
    c_name: Option<String>,
    c_typedef: bool,
    c_external: bool,
    py_format: Option<String>,
    py_format_override: Option<String>,
    order: Order,
    doc: String,
    fields: Vec<FieldDef>,
    /// Some field had an unsupported type and is missing from `fields`, so
    /// offsets cannot be known: the cross-field checks are skipped rather
    /// than reporting errors that are only consequences of the first.
    incomplete: bool,
}

/// Classifies a field type, or explains why it is not supported.
fn classify(ty: &Type) -> Result<Shape, &'static str> {
    const UNSUPPORTED: &str = "unsupported wire field type: use u8, u16, u32, u64, \
        an array of them, or a trailing Vec of them or of a Wire struct";
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let seg = p.path.segments.last().ok_or(UNSUPPORTED)?;
            if let Some(prim) = Prim::from_ident(&seg.ident) {
                return Ok(Shape::Prim(prim));
            }
            if seg.ident == "Vec" {
                if let syn::PathArguments::AngleBracketed(args) = &seg.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                        if let Type::Path(ip) = inner {
                            if let Some(id) = ip.path.get_ident() {
                                if let Some(prim) = Prim::from_ident(id) {
                                    return Ok(Shape::VecPrim(prim));
                                }
                            }
                        }
                        if matches!(inner, Type::Path(_)) {
                            return Ok(Shape::VecStruct(Box::new(inner.clone())));
                        }
                    }
                }
            }
            Err(UNSUPPORTED)
        }
        Type::Array(a) => {
            let prim = match &*a.elem {
                Type::Path(p) => p.path.get_ident().and_then(Prim::from_ident),
                _ => None,
            }
            .ok_or(UNSUPPORTED)?;
            let n = match &a.len {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) => i.base10_parse::<usize>().map_err(|_| UNSUPPORTED)?,
                _ => return Err("array length must be an integer literal"),
            };
            Ok(Shape::Array(prim, n))
        }
        _ => Err(UNSUPPORTED),
    }
}

/// Pass 1: parse the struct and all its attributes, collecting errors.
fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<StructDef> {
    let mut c_name = Slot::new("c_name");
    let mut c_typedef = Slot::new("c_typedef");
    let mut c_external = Slot::new("c_external");
    let mut py_format = Slot::new("py_format");
    let mut py_override = Slot::new("py_format_override");
    let mut order = Slot::new("byte_order");
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("wire")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident("c_name") {
                c_name.set(errors, span, lit_str(&meta)?.value());
            } else if meta.path.is_ident("c_typedef") {
                c_typedef.set(errors, span, true);
            } else if meta.path.is_ident("c_external") {
                c_external.set(errors, span, true);
            } else if meta.path.is_ident("py_format") {
                py_format.set(errors, span, lit_str(&meta)?.value());
            } else if meta.path.is_ident("py_format_override") {
                py_override.set(errors, span, lit_str(&meta)?.value());
            } else if meta.path.is_ident("byte_order") {
                let id: Ident = meta.value()?.parse()?;
                let o = match id.to_string().as_str() {
                    "big" => Order::Big,
                    "stream" => Order::Stream,
                    "native" => Order::Native,
                    _ => {
                        errors.push(id.span(), "byte_order must be `big`, `stream` or `native`");
                        Order::Stream
                    }
                };
                order.set(errors, span, o);
            } else {
                errors.push(
                    span,
                    "unknown wire struct attribute; expected one of c_name, c_typedef, \
                     c_external, py_format, py_format_override, byte_order",
                );
                crate::attr::skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            errors.push_err(e);
        }
    }

    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        errors.push(
            input.ident.span(),
            "Wire can only be derived for structs with named fields",
        );
        return None;
    };

    let mut fields = Vec::new();
    let mut incomplete = false;
    for f in &named.named {
        let ident = f.ident.clone().expect("named field");
        let shape = match classify(&f.ty) {
            Ok(s) => s,
            Err(msg) => {
                errors.push_spanned(&f.ty, msg);
                incomplete = true;
                continue;
            }
        };
        let mut reserved = Slot::new("reserved");
        let mut equals = Slot::new("equals");
        let mut one_of = Slot::new("one_of");
        let mut values = Slot::new("values");
        let mut bits = Slot::new("reserved_bits");
        let mut at_most = Slot::new("at_most");
        let mut count = Slot::new("count");
        let mut error = Slot::new("error");
        let mut lenient = Slot::new("lenient");
        let mut diagram: Vec<Slot<String>> = DIAGRAM_ATTRS.iter().map(|a| Slot::new(a)).collect();
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("wire")) {
            let res = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if let Some(i) = DIAGRAM_ATTRS.iter().position(|a| meta.path.is_ident(a)) {
                    diagram[i].set(errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("reserved") {
                    reserved.set(errors, span, ());
                } else if meta.path.is_ident("equals") {
                    equals.set(errors, span, meta.value()?.parse::<Expr>()?);
                } else if meta.path.is_ident("one_of") {
                    match meta.value()?.parse::<Expr>()? {
                        Expr::Array(arr) => one_of.set(
                            errors,
                            span,
                            Constraint::OneOf(arr.elems.into_iter().collect()),
                        ),
                        Expr::Path(p) => one_of.set(errors, span, Constraint::OneOfConst(p.path)),
                        other => errors.push_spanned(
                            other,
                            "one_of takes an array of values (`[4, 8]`) or the path of a constant array",
                        ),
                    }
                } else if meta.path.is_ident("values") {
                    values.set(errors, span, meta.value()?.parse::<Type>()?);
                } else if meta.path.is_ident("reserved_bits") {
                    bits.set(errors, span, meta.value()?.parse::<Expr>()?);
                } else if meta.path.is_ident("at_most") {
                    at_most.set(errors, span, meta.value()?.parse::<Expr>()?);
                } else if meta.path.is_ident("count") {
                    count.set(errors, span, meta.value()?.parse::<Ident>()?);
                } else if meta.path.is_ident("error") {
                    error.set(errors, span, lit_str(&meta)?.value());
                } else if meta.path.is_ident("lenient") {
                    lenient.set(errors, span, ());
                } else {
                    errors.push(
                        span,
                        "unknown wire field attribute; expected one of reserved, equals, \
                         one_of, values, reserved_bits, at_most, count, error, lenient, spec, label, \
                         symbol, first, last",
                    );
                    crate::attr::skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = res {
                errors.push_err(e);
            }
        }
        let mut constraints = Vec::new();
        if let Some((s, ())) = reserved.get_spanned() {
            constraints.push((s, Constraint::Reserved));
        }
        if let Some((s, e)) = equals.get_spanned() {
            constraints.push((s, Constraint::Equals(e)));
        }
        if let Some((s, v)) = one_of.get_spanned() {
            constraints.push((s, v));
        }
        if let Some((s, t)) = values.get_spanned() {
            constraints.push((s, Constraint::Values(t)));
        }
        if let Some((s, e)) = bits.get_spanned() {
            constraints.push((s, Constraint::ReservedBits(e)));
        }
        if let Some((s, e)) = at_most.get_spanned() {
            constraints.push((s, Constraint::AtMost(e)));
        }
        if constraints.len() > 1 {
            errors.push(
                constraints[1].0,
                "a field takes at most one constraint (reserved, equals, one_of, values, \
                 reserved_bits or at_most)",
            );
        }
        let constraint = constraints
            .into_iter()
            .next()
            .map(|(span, c)| {
                match (&shape, &c) {
                    (Shape::Prim(_), _) | (Shape::Array(..), Constraint::Reserved) => {}
                    (Shape::Array(..), _) => errors.push(
                        span,
                        "an array field can only be `reserved`; value constraints need an integer field",
                    ),
                    _ => errors.push(
                        span,
                        "a trailing array takes no constraint; constrain the element struct's fields",
                    ),
                }
                c
            })
            .unwrap_or(Constraint::None);
        let count = count.get_spanned().map(|(span, c)| {
            if !shape.is_trailing() {
                errors.push(span, "`count` only applies to a trailing Vec field");
            }
            c
        });
        let error = error.get_spanned().map(|(span, e)| {
            if matches!(constraint, Constraint::None) {
                errors.push(
                    span,
                    "`error` names the KIND a broken rule of the field reports: give the field a rule",
                );
            }
            e
        });
        let lenient = match (lenient.get_spanned(), &constraint) {
            (Some(_), Constraint::Reserved | Constraint::ReservedBits(_)) => true,
            (Some((span, ())), _) => {
                errors.push(
                    span,
                    "`lenient` makes a reserved rule one lenient mode checks too; value rules always are",
                );
                true
            }
            (None, Constraint::None | Constraint::Reserved | Constraint::ReservedBits(_)) => false,
            (
                None,
                Constraint::Equals(_)
                | Constraint::OneOf(_)
                | Constraint::OneOfConst(_)
                | Constraint::Values(_)
                | Constraint::AtMost(_),
            ) => true,
        };
        fields.push(FieldDef {
            ident,
            shape,
            constraint,
            count,
            error,
            lenient,
            diagram: {
                let mut d: [Option<String>; 5] = Default::default();
                for (slot, out) in diagram.into_iter().zip(d.iter_mut()) {
                    *out = slot.get();
                }
                d
            },
            doc: doc_text(&f.attrs),
            span: f.ty.span(),
        });
    }

    Some(StructDef {
        ident: input.ident.clone(),
        c_name: c_name.get(),
        c_typedef: c_typedef.get().unwrap_or(false),
        c_external: c_external.get().unwrap_or(false),
        py_format: py_format.get(),
        py_format_override: py_override.get(),
        order: order.get().unwrap_or(Order::Stream),
        doc: doc_text(&input.attrs),
        fields,
        incomplete,
    })
}

/// Pass 2: checks across fields. Returns the fixed-part offsets.
fn check(def: &StructDef, errors: &mut Errors) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = 0usize;
    let mut align = 1usize;
    let mut seen_trailing: Option<&Ident> = None;
    for (i, f) in def.fields.iter().enumerate() {
        if let Some(prev) = seen_trailing {
            errors.push(
                f.ident.span(),
                format!("field `{}` follows the trailing array `{prev}`; a trailing Vec must be the last field", f.ident),
            );
        }
        let elem_align = match &f.shape {
            Shape::Prim(p) | Shape::Array(p, _) | Shape::VecPrim(p) => p.size(),
            Shape::VecStruct(_) => 1, // checked by a const assertion
        };
        if !offset.is_multiple_of(elem_align) {
            errors.push(
                f.ident.span(),
                format!(
                    "field `{}` at offset {offset} is not aligned to its size {elem_align}; \
                     the spec requires every field to be aligned to its size (add a reserved field before it)",
                    f.ident
                ),
            );
        }
        align = align.max(elem_align);
        offsets.push(offset);
        offset += f.shape.fixed_size();
        if f.shape.is_trailing() {
            seen_trailing = Some(&f.ident);
        }
        if let Some(count) = &f.count {
            let target = def.fields[..i].iter().find(|g| g.ident == *count);
            match target {
                None => errors.push(
                    count.span(),
                    format!(
                        "count field `{count}` is not a field declared before `{}`",
                        f.ident
                    ),
                ),
                Some(g) if !matches!(g.shape, Shape::Prim(_)) => errors.push(
                    count.span(),
                    format!("count field `{count}` must be an integer field"),
                ),
                Some(_) => {}
            }
        }
    }
    if !offset.is_multiple_of(align) {
        errors.push(
            def.ident.span(),
            format!(
                "struct size {offset} is not a multiple of its alignment {align}; \
                 add reserved padding at the end"
            ),
        );
    }
    offsets
}

/// Pass 3: emit the impls.
fn emit(def: &StructDef, offsets: &[usize]) -> TokenStream {
    let ident = &def.ident;
    let name = ident.to_string();
    let c_name = opt_str(&def.c_name);
    let c_typedef = def.c_typedef;
    let c_external = def.c_external;
    let py_format = opt_str(&def.py_format);
    let py_override = opt_str(&def.py_format_override);
    let doc = &def.doc;
    let order = match def.order {
        Order::Big => quote!(::format_spec::layout::ByteOrder::Big),
        Order::Stream => quote!(::format_spec::layout::ByteOrder::Stream),
        Order::Native => quote!(::format_spec::layout::ByteOrder::Native),
    };
    let size: usize = def.fields.iter().map(|f| f.shape.fixed_size()).sum();

    let mut field_layouts = Vec::new();
    let mut align_terms = vec![quote!(1usize)];
    let mut asserts = Vec::new();
    for (f, off) in def.fields.iter().zip(offsets) {
        let fname = f.ident.unraw().to_string();
        let fdoc = &f.doc;
        let kind = match &f.shape {
            Shape::Prim(p) => {
                let p = p.tokens();
                quote!(::format_spec::layout::FieldKind::Prim(#p))
            }
            Shape::Array(p, n) => {
                let p = p.tokens();
                quote!(::format_spec::layout::FieldKind::Array(#p, #n))
            }
            Shape::VecPrim(p) => {
                let p = p.tokens();
                quote!(::format_spec::layout::FieldKind::TrailingPrim(#p))
            }
            Shape::VecStruct(t) => {
                let msg = format!(
                    "{name}.{fname}: the trailing array's elements must be aligned at offset {off}"
                );
                asserts.push(quote_spanned! {f.span=>
                    const _: () = assert!(
                        #off % <#t as ::format_spec::layout::Wire>::LAYOUT.align == 0,
                        #msg
                    );
                });
                align_terms.push(quote!(<#t as ::format_spec::layout::Wire>::LAYOUT.align));
                quote!(::format_spec::layout::FieldKind::TrailingStruct(
                    &<#t as ::format_spec::layout::Wire>::LAYOUT
                ))
            }
        };
        if let Shape::Prim(p) | Shape::Array(p, _) | Shape::VecPrim(p) = &f.shape {
            let a = p.size();
            align_terms.push(quote!(#a));
        }
        let constraint = match &f.constraint {
            Constraint::None => quote!(::format_spec::layout::Constraint::None),
            Constraint::Reserved => quote!(::format_spec::layout::Constraint::Reserved),
            Constraint::Equals(e) => {
                quote!(::format_spec::layout::Constraint::Equals((#e) as u64))
            }
            Constraint::OneOf(v) => {
                quote!(::format_spec::layout::Constraint::OneOf(&[#((#v) as u64),*]))
            }
            Constraint::OneOfConst(p) => quote!(::format_spec::layout::Constraint::OneOf(&{
                // Widen the named array to u64 at compile time.
                const WIDE: [u64; #p.len()] = {
                    let mut out = [0u64; #p.len()];
                    let mut i = 0;
                    while i < out.len() {
                        out[i] = #p[i] as u64;
                        i += 1;
                    }
                    out
                };
                WIDE
            })),
            Constraint::Values(t) => quote!(::format_spec::layout::Constraint::Enum(
                &<#t as ::format_spec::layout::SpecEnum>::LAYOUT
            )),
            Constraint::ReservedBits(e) => {
                quote!(::format_spec::layout::Constraint::ReservedBits((#e) as u64))
            }
            Constraint::AtMost(e) => {
                if let Shape::Prim(p) = &f.shape {
                    // A bound the field's type cannot exceed is no rule.
                    let bits = 8 * p.size() as u32;
                    let msg = format!(
                        "{name}.{fname}: the at_most bound must be below the largest value \
                         of the field's {bits}-bit type"
                    );
                    asserts.push(quote_spanned! {e.span()=>
                        const _: () = assert!(
                            ((#e) as u128) < (1u128 << #bits) - 1,
                            #msg
                        );
                    });
                }
                quote!(::format_spec::layout::Constraint::AtMost((#e) as u64))
            }
        };
        let count = match (&f.count, f.shape.is_trailing()) {
            (Some(c), _) => {
                let c = c.to_string();
                quote!(::format_spec::layout::Count::Field(#c))
            }
            (None, true) => quote!(::format_spec::layout::Count::Rest),
            (None, false) => quote!(::format_spec::layout::Count::Fixed),
        };
        let [spec, label, symbol, first, last] = f.diagram.clone().map(|d| match d {
            Some(s) => quote!(::core::option::Option::Some(#s)),
            None => quote!(::core::option::Option::None),
        });
        let lenient = f.lenient;
        let error = match &f.error {
            Some(e) => quote!(::core::option::Option::Some(#e)),
            None => quote!(::core::option::Option::None),
        };
        field_layouts.push(quote! {
            ::format_spec::layout::FieldLayout {
                name: #fname,
                offset: #off,
                kind: #kind,
                constraint: #constraint,
                count: #count,
                error: #error,
                lenient: #lenient,
                diagram: ::format_spec::layout::FieldDiagram {
                    spec: #spec, label: #label, symbol: #symbol, first: #first, last: #last,
                },
                doc: #fdoc,
            }
        });
    }

    let align = align_terms
        .into_iter()
        .reduce(|a, b| quote!(::format_spec::body::const_max(#a, #b)))
        .unwrap_or_else(|| quote!(1usize));

    // Reader, writer and checker, field by field.
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let mut checks = Vec::new();
    let idents: Vec<&Ident> = def.fields.iter().map(|f| &f.ident).collect();
    for (index, f) in def.fields.iter().enumerate() {
        let id = &f.ident;
        let fname = id.unraw().to_string();
        match &f.shape {
            Shape::Prim(_) | Shape::Array(..) => {
                reads.push(quote! {
                    let #id = ::format_spec::binrw::BinRead::read_options(reader, endian, ())?;
                });
                writes.push(quote! {
                    ::format_spec::binrw::BinWrite::write_options(&self.#id, writer, endian, ())?;
                });
            }
            Shape::VecPrim(Prim::U8) if f.count.is_none() => {
                reads.push(quote! {
                    let #id = ::format_spec::body::read_rest_bytes(reader)?;
                });
                writes.push(quote! {
                    ::format_spec::body::write_bytes(writer, &self.#id)?;
                });
            }
            Shape::VecPrim(_) | Shape::VecStruct(_) => {
                let elem = match &f.shape {
                    Shape::VecPrim(p) => {
                        let s = p.size();
                        quote!(#s)
                    }
                    Shape::VecStruct(t) => {
                        quote!(<#t as ::format_spec::layout::Wire>::LAYOUT.size)
                    }
                    _ => unreachable!(),
                };
                match &f.count {
                    Some(c) => {
                        let cname = c.to_string();
                        reads.push(quote! {
                            let #id = ::format_spec::body::read_array(
                                reader,
                                endian,
                                ::format_spec::body::Extent::Counted { count: #c as u64, field: #cname },
                                #elem,
                                #name,
                            )?;
                        });
                        writes.push(quote! {
                            ::format_spec::body::check_count(
                                writer, self.#c as u64, self.#id.len(), #name, #cname)?;
                            for item in &self.#id {
                                ::format_spec::binrw::BinWrite::write_options(item, writer, endian, ())?;
                            }
                        });
                    }
                    None => {
                        reads.push(quote! {
                            let #id = ::format_spec::body::read_array(
                                reader,
                                endian,
                                ::format_spec::body::Extent::Rest { field: #fname },
                                #elem,
                                #name,
                            )?;
                        });
                        writes.push(quote! {
                            for item in &self.#id {
                                ::format_spec::binrw::BinWrite::write_options(item, writer, endian, ())?;
                            }
                        });
                    }
                }
                if let Shape::VecStruct(_) = &f.shape {
                    checks.push(quote! {
                        for item in &self.#id {
                            ::format_spec::layout::Wire::check(item)?;
                        }
                    });
                }
            }
        }
        match (&f.shape, &f.constraint) {
            (_, Constraint::None) => {}
            (Shape::Prim(_), _) => checks.push(quote! {
                ::format_spec::layout::check_value(&<Self as ::format_spec::layout::Wire>::LAYOUT, #index, self.#id as u64)?;
            }),
            (Shape::Array(..), Constraint::Reserved) => checks.push(quote! {
                if let Some(v) = self.#id.iter().copied().find(|v| *v != 0) {
                    ::format_spec::layout::check_value(&<Self as ::format_spec::layout::Wire>::LAYOUT, #index, v as u64)?;
                }
            }),
            _ => {}
        }
    }

    quote! {
        #(#asserts)*

        impl ::format_spec::layout::Wire for #ident {
            const LAYOUT: ::format_spec::layout::StructLayout = ::format_spec::layout::StructLayout {
                rust_name: #name,
                c_name: #c_name,
                c_typedef: #c_typedef,
                c_external: #c_external,
                py_format_name: #py_format,
                py_format_override: #py_override,
                byte_order: #order,
                size: #size,
                align: #align,
                fields: &[#(#field_layouts),*],
                doc: #doc,
            };

            fn check(&self) -> ::core::result::Result<(), ::format_spec::layout::Violation> {
                #(#checks)*
                Ok(())
            }
        }

        impl ::format_spec::binrw::BinRead for #ident {
            type Args<'a> = ();

            fn read_options<R: ::std::io::Read + ::std::io::Seek>(
                reader: &mut R,
                endian: ::format_spec::binrw::Endian,
                _args: (),
            ) -> ::format_spec::binrw::BinResult<Self> {
                let endian = ::format_spec::layout::resolve_endian(#order, endian);
                #(#reads)*
                Ok(Self { #(#idents),* })
            }
        }

        impl ::format_spec::binrw::BinWrite for #ident {
            type Args<'a> = ();

            fn write_options<W: ::std::io::Write + ::std::io::Seek>(
                &self,
                writer: &mut W,
                endian: ::format_spec::binrw::Endian,
                _args: (),
            ) -> ::format_spec::binrw::BinResult<()> {
                let endian = ::format_spec::layout::resolve_endian(#order, endian);
                #(#writes)*
                Ok(())
            }
        }

        impl ::format_spec::body::RecordBody for #ident {
            const BODY_LAYOUT: ::core::option::Option<&'static ::format_spec::layout::StructLayout> =
                ::core::option::Option::Some(&<Self as ::format_spec::layout::Wire>::LAYOUT);
            const BODY_LENGTH: ::format_spec::layout::LengthRule =
                <Self as ::format_spec::layout::Wire>::LAYOUT.length_rule();

            fn read_body(
                body: &[u8],
                endian: ::format_spec::binrw::Endian,
            ) -> ::core::result::Result<Self, ::format_spec::body::BodyError> {
                ::format_spec::body::read_wire(body, endian)
            }

            fn write_body(
                &self,
                out: &mut ::std::vec::Vec<u8>,
                endian: ::format_spec::binrw::Endian,
            ) -> ::core::result::Result<(), ::format_spec::body::BodyError> {
                ::format_spec::body::write_wire(self, out, endian)
            }

            fn check_body(&self) -> ::core::result::Result<(), ::format_spec::layout::Violation> {
                <Self as ::format_spec::layout::Wire>::check(self)
            }
        }
    }
}

fn opt_str(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

/// Entry point: parse, check, emit; every error of the item at once.
pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let def = parse(input, &mut errors);
    let offsets = def
        .as_ref()
        .filter(|d| !d.incomplete)
        .map(|d| check(d, &mut errors));
    errors.finish()?;
    let (def, offsets) = (def.expect("parsed"), offsets.expect("checked"));
    Ok(emit(&def, &offsets))
}
