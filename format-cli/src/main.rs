//! `xenstream`: inspect Xen migration streams.

mod memory;

use format_spec::layout::SpecEnum;
use format_spec::libxc::{DomainType, LibxcRecord};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("records") => print_records(),
        Some("memory") => std::process::exit(memory::main_memory(&args[1..])),
        Some("page") => std::process::exit(memory::main_page(&args[1..])),
        _ => {
            eprintln!("usage: xenstream records | memory ... | page ...");
            std::process::exit(2);
        }
    }
}

/// Prints the libxc record-type table the description holds.
fn print_records() {
    println!(
        "{:<10} {:<26} {:<26} {:<9} {:>5} {:>10}  length",
        "code", "spec name", "human name", "kind", "since", "deprecated"
    );
    for r in LibxcRecord::LAYOUT.records {
        println!(
            "0x{:08x} {:<26} {:<26} {:<9} {:>5} {:>10}  {:?}",
            r.code,
            r.spec_name,
            r.human,
            if r.mandatory { "mandatory" } else { "optional" },
            r.since,
            match r.deprecated {
                Some(0) => "always".to_string(),
                Some(v) => format!("v{v}"),
                None => "-".into(),
            },
            r.length
        );
    }
    for v in DomainType::LAYOUT.variants {
        println!("domain type 0x{:x}: {}", v.value, v.human);
    }
}
