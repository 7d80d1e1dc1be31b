//! The layout tour at the top of `src/lib.rs` is a checked fact: every module of `src/` is
//! in it, and none imports a module listed after it. The tour lists the leaves first, so
//! that data and dependencies flow one way; an upward import fails here with the line that
//! made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The tour's layers, in order: each `//! - ` bullet is one layer, named by the
/// `` [`module`] `` links before its colon. Sub-bullets are layers of their own.
fn tour_layers(lib_rs: &str) -> Vec<Vec<String>> {
    let tour = lib_rs
        .split("//! # Layout")
        .nth(1)
        .expect("src/lib.rs has a `# Layout` section");
    let mut layers = Vec::new();
    // The rest of the heading's line, then the tour down to the end of the doc comment.
    for line in tour
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("//!"))
    {
        let text = line.trim_start_matches("//!").trim_start();
        let Some(bullet) = text.strip_prefix("- ") else {
            continue;
        };
        let names = bullet.split(": ").next().unwrap_or_default();
        let modules: Vec<String> = names
            .split("[`")
            .skip(1)
            .filter_map(|link| link.split_once("`]").map(|(name, _)| name.to_owned()))
            .collect();
        if !modules.is_empty() {
            layers.push(modules);
        }
    }
    layers
}

/// `src/genesys/wire.rs` → `genesys::wire`; `src/schedule/mod.rs` → `schedule`.
fn module_path(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module (tests may reach anywhere) and
/// without comments.
fn production_code(source: &str) -> String {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path that `code` names through `crate::`, `super::` or (in the binary)
/// the library's name, resolved against the file's own module `this`.
fn imports(code: &str, this: &str) -> Vec<String> {
    // `use crate::{a::b, c}` names several paths in one statement: flatten braces first.
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        for root in ["crate::", "genesys_exporter::", "super::"] {
            let mut rest = statement;
            while let Some(at) = rest.find(root) {
                // `crate::` inside a longer identifier (`foo_crate::`) is not a root.
                let before = rest[..at].chars().last();
                rest = &rest[at + root.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let base = match root {
                    "super::" => this.rsplit_once("::").map_or("", |(parent, _)| parent),
                    _ => "",
                };
                for tail in expand(rest) {
                    let path = if base.is_empty() {
                        tail
                    } else {
                        format!("{base}::{tail}")
                    };
                    paths.push(path);
                }
            }
        }
    }
    paths
}

/// The paths a use-tree spells out: `a::{b::c, d}` → `a::b::c`, `a::d`.
fn expand(tree: &str) -> Vec<String> {
    // `x as y` renames what is imported, not where it comes from: drop the `as y`.
    let mut words = tree.split_whitespace();
    let mut kept = Vec::new();
    while let Some(word) = words.next() {
        if word == "as" {
            // Keep what follows the alias: `Y,` or `Y}`.
            let alias = words.next().unwrap_or_default();
            kept.push(alias.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
        } else {
            kept.push(word);
        }
    }
    let tree = kept.concat();
    let head: String = tree
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let rest = &tree[head.len()..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut parts = Vec::new();
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    parts.push(&inner[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return parts
            .into_iter()
            .filter(|part| !part.is_empty())
            .flat_map(expand)
            .map(|tail| format!("{head}{tail}"))
            .collect();
    }
    vec![head.trim_end_matches(':').to_owned()]
}

/// The layer of the module at `path`: that of the longest tour entry it lies in.
fn layer_of(path: &str, layers: &[Vec<String>]) -> Option<(usize, String)> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(index, modules)| modules.iter().map(move |module| (index, module)))
        .filter(|(_, module)| path == module.as_str() || path.starts_with(&format!("{module}::")))
        .max_by_key(|(_, module)| module.len())
        .map(|(index, module)| (index, module.clone()))
}

#[test]
fn no_module_imports_one_listed_after_it_in_the_layout_tour() {
    let lib_rs = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let layers = tour_layers(&std::fs::read_to_string(lib_rs).unwrap());
    assert!(layers.len() > 5, "the tour lists its layers: {layers:?}");

    let mut problems = Vec::new();
    let mut checked = BTreeMap::new();
    // The crate root declares modules and the binary may use all of the library: neither
    // is in `modules()`.
    for (this, code) in modules() {
        let Some((own_layer, own_entry)) = layer_of(&this, &layers) else {
            problems.push(format!(
                "module `{this}` is not in lib.rs's layout tour; add it where it belongs"
            ));
            continue;
        };
        for import in imports(&code, &this) {
            let Some((layer, entry)) = layer_of(&import, &layers) else {
                continue; // a path below a module the tour lists as a whole, or an item
            };
            if layer > own_layer {
                problems.push(format!(
                    "`{this}` (in `{own_entry}`) imports `{import}`, but `{entry}` is listed after `{own_entry}` in lib.rs's layout tour"
                ));
            }
        }
        checked.insert(this, own_layer);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked.len() > 20, "every module was read: {checked:?}");
}

/// Every module of `src/` (but the crate root and the binary) with its production code.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let code = production_code(&std::fs::read_to_string(&file).unwrap());
            (module_path(&src, &file), code)
        })
        .filter(|(module, _)| module != "lib" && module != "main")
        .collect()
}

/// Within a layer, modules are peers: still, none may need another that needs it back.
/// (A module using its parent's items, such as `super::Simulator`, is not an edge: the
/// parent is where it is declared.)
#[test]
fn no_two_modules_import_each_other_even_within_a_layer() {
    let modules = modules();
    let owner = |path: &str| {
        modules
            .keys()
            .filter(|module| path == module.as_str() || path.starts_with(&format!("{module}::")))
            .max_by_key(|module| module.len())
            .cloned()
    };
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &modules {
        let targets = imports(code, module)
            .iter()
            .filter_map(|path| owner(path))
            .filter(|target| target != module && !module.starts_with(&format!("{target}::")))
            .collect();
        edges.insert(module, targets);
    }
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        edges: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut cycle: Vec<String> = path[at..].iter().map(|m| m.to_string()).collect();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for target in edges.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(target, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        let cycle = visit(module, &edges, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "an import cycle: {}",
            cycle.unwrap().join(" → ")
        );
    }
    assert!(
        edges.len() > 20,
        "every module was read: {:?}",
        edges.keys()
    );
}

#[test]
fn use_trees_are_read_path_by_path() {
    assert_eq!(
        expand("genesys::{client::Client, wire::{Endpoint, ErrorBody}}"),
        [
            "genesys::client::Client",
            "genesys::wire::Endpoint",
            "genesys::wire::ErrorBody"
        ]
    );
    assert_eq!(
        imports(
            "use super::wire::Endpoint;\nlet x = crate::schedule::Clock::System;",
            "genesys::retry"
        ),
        ["genesys::wire::Endpoint", "schedule::Clock::System"]
    );
    assert_eq!(
        expand("protocol::{DropConnection as Dropped, API_PREFIX}"),
        ["protocol::DropConnection", "protocol::API_PREFIX"]
    );
    assert_eq!(
        expand("server as _server"),
        ["server"],
        "a rename is no path"
    );
}
