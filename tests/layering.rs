//! The layout tour at the top of `src/lib.rs` is a checked fact: every module of `src/` is
//! in it, and none imports a module listed after it. The tour lists the leaves first, so
//! that data and dependencies flow one way; an upward import fails here with the line that
//! made it. Every item is read but those under `#[cfg(test)]`, wherever they are in a file.
//!
//! The workspace's crates are layered too: the wire crate depends on none of ours, the
//! simulator on the wire crate alone, and the exporter on the simulator only behind its
//! `demo` feature, in its manifest and in its code. No crate has an import cycle.

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

/// The code of a file without its test items (tests may reach anywhere) and without
/// comments: only the item under each `#[cfg(test)]` is left out, be it a `mod x;` line, a
/// `mod x { ... }` block, a `fn`, an `impl` or a `use`, never the rest of the file.
fn production_code(source: &str) -> String {
    without_items_under(&without_comments(source), TEST)
}

/// The attribute of test-only items.
const TEST: &str = "#[cfg(test)]";

/// The attribute of the items that only the `demo` feature builds.
const DEMO: &str = r#"#[cfg(feature = "demo")]"#;

/// `code` without the item that follows each `attribute` (and any other attributes of that
/// item). Newlines are kept, so that lines keep their numbers.
fn without_items_under(code: &str, attribute: &str) -> String {
    let mut kept = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(attribute) {
        kept.push_str(&rest[..at]);
        let item = &rest[at + attribute.len()..];
        let end = item_end(item);
        kept.extend(item[..end].chars().filter(|c| *c == '\n'));
        rest = &item[end..];
    }
    kept.push_str(rest);
    kept
}

/// Where the item at the start of `code` ends: after the `;` or `,` that ends it outside
/// any brackets (`mod x;`, `use a::{b, c};`, a field, a match arm), after the `}` that
/// closes its body (a `mod`, `fn` or `impl` block, a `let` or `static` with a block
/// value up to its `;`), or before the `}` that closes what it is in. Literals are
/// skipped, so that a brace in a string counts for nothing; angle brackets count only in
/// the item's head (`impl<A, B>`), where no comparison can be.
fn item_end(code: &str) -> usize {
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let text: Vec<char> = chars.iter().map(|(_, c)| *c).collect();
    let (mut depth, mut angles) = (0usize, 0usize);
    let mut i = 0;
    while i < text.len() {
        if let Some(end) = literal_end(&text, i) {
            i = end;
            continue;
        }
        match text[i] {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '}' if depth == 0 => return chars[i].0,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    // `let x = { .. };` and `static S: T = T { .. };` end at their `;`.
                    let next = (i + 1..text.len()).find(|&j| !text[j].is_whitespace());
                    return match next {
                        Some(j) if text[j] == ';' => chars[j].0 + 1,
                        _ => chars[i].0 + 1,
                    };
                }
            }
            '<' if depth == 0 => angles += 1,
            '>' if depth == 0 && i > 0 && !matches!(text[i - 1], '-' | '=') => {
                angles = angles.saturating_sub(1)
            }
            ';' if depth == 0 => return chars[i].0 + 1,
            ',' if depth == 0 && angles == 0 => return chars[i].0 + 1,
            _ => {}
        }
        i += 1;
    }
    code.len()
}

/// The end of the string, raw string or character literal that starts at `i`, if one does.
fn literal_end(text: &[char], i: usize) -> Option<usize> {
    let ident = |j: usize| text[j].is_alphanumeric() || text[j] == '_';
    match text[i] {
        '"' => {
            let mut j = i + 1;
            while j < text.len() {
                match text[j] {
                    '\\' => j += 2,
                    '"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            Some(text.len())
        }
        // r"..", r#".."#, br"..": not the `r` ending an identifier.
        'r' if i == 0 || !ident(i - 1) || (text[i - 1] == 'b' && (i == 1 || !ident(i - 2))) => {
            let hashes = text[i + 1..].iter().take_while(|c| **c == '#').count();
            if text.get(i + 1 + hashes) != Some(&'"') {
                return None;
            }
            let mut j = i + 2 + hashes;
            while j < text.len() {
                if text[j] == '"'
                    && text[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|c| **c == '#')
                        .count()
                        == hashes
                {
                    return Some(j + 1 + hashes);
                }
                j += 1;
            }
            Some(text.len())
        }
        // '\n', '\'', '\u{..}', 'x'; not a lifetime ('a).
        '\'' if text.get(i + 1) == Some(&'\\') => (i + 3..text.len())
            .find(|&j| text[j] == '\'')
            .map(|j| j + 1),
        '\'' if text.get(i + 2) == Some(&'\'') => Some(i + 3),
        _ => None,
    }
}

/// `source` without its `//` and (nested) `/* */` comments, doc comments included; what
/// looks like a comment inside a literal stays. Newlines are kept.
fn without_comments(source: &str) -> String {
    let text: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    while i < text.len() {
        if let Some(end) = literal_end(&text, i) {
            code.extend(&text[i..end]);
            i = end;
        } else if text[i] == '/' && text.get(i + 1) == Some(&'/') {
            while i < text.len() && text[i] != '\n' {
                i += 1;
            }
        } else if text[i] == '/' && text.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < text.len() {
                if text[i] == '/' && text.get(i + 1) == Some(&'*') {
                    (depth, i) = (depth + 1, i + 2);
                } else if text[i] == '*' && text.get(i + 1) == Some(&'/') {
                    (depth, i) = (depth - 1, i + 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    if text[i] == '\n' {
                        code.push('\n');
                    }
                    i += 1;
                }
            }
        } else {
            code.push(text[i]);
            i += 1;
        }
    }
    code
}

/// The modules declared under `attribute` (`#[cfg(test)] mod testing;`): their files are
/// what the item stands for, so they go with it.
fn modules_under(code: &str, this: &str, attribute: &str) -> Vec<String> {
    code.split(attribute)
        .skip(1)
        .filter_map(|item| {
            let item = item[..item_end(item)].trim();
            let name = item
                .rsplit("mod ")
                .next()
                .filter(|_| item.contains("mod ") && item.ends_with(';'))?
                .trim_end_matches(';')
                .trim();
            Some(if this.is_empty() {
                name.to_owned()
            } else {
                format!("{this}::{name}")
            })
        })
        .collect()
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

/// The root of the workspace: the exporter's package.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `src/` of the exporter and of each crate of the workspace.
fn source_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![root().join("src")];
    for krate in crate_dirs() {
        dirs.push(krate.join("src"));
    }
    dirs
}

/// `crates/*`, each a package of the workspace.
fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "the wire and simulator crates: {dirs:?}");
    dirs
}

#[test]
fn no_module_imports_one_listed_after_it_in_the_layout_tour() {
    for src in source_dirs() {
        let lib_rs = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        // The exporter's lib.rs has a tour; a crate's lib.rs may have one too.
        if src == root().join("src") {
            assert!(
                lib_rs.contains("//! # Layout"),
                "src/lib.rs has a `# Layout` tour"
            );
        } else if !lib_rs.contains("//! # Layout") {
            continue;
        }
        follows_its_tour(&src, &tour_layers(&lib_rs));
    }
}

/// No module of `src` imports one listed after it in the tour `layers`, and every module
/// is in the tour.
fn follows_its_tour(src: &Path, layers: &[Vec<String>]) {
    let lib_rs = src.join("lib.rs");
    let lib_rs = lib_rs.strip_prefix(root()).unwrap().display();
    assert!(layers.len() > 5, "the tour lists its layers: {layers:?}");

    let mut problems = Vec::new();
    let mut checked = BTreeMap::new();
    // The crate root declares modules and the binary may use all of the library: neither
    // is in `modules()`.
    for (this, code) in modules(src) {
        let Some((own_layer, own_entry)) = layer_of(&this, layers) else {
            problems.push(format!(
                "module `{this}` is not in {lib_rs}'s layout tour; add it where it belongs"
            ));
            continue;
        };
        for import in imports(&code, &this) {
            let Some((layer, entry)) = layer_of(&import, layers) else {
                continue; // a path below a module the tour lists as a whole, or an item
            };
            if layer > own_layer {
                problems.push(format!(
                    "`{this}` (in `{own_entry}`) imports `{import}`, but `{entry}` is listed after `{own_entry}` in {lib_rs}'s layout tour"
                ));
            }
        }
        checked.insert(this, own_layer);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked.len() > 20, "every module was read: {checked:?}");
}

/// Every module of `src` (but the crate root and the binary) with its production code.
/// A module declared under `#[cfg(test)]` is test code, its file as much as a `mod x {}`
/// block would be, and is left out with the modules below it.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules = BTreeMap::new();
    let mut test_only = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let module = module_path(src, &file);
        let declaring = if module == "lib" || module == "main" {
            ""
        } else {
            &module
        };
        test_only.extend(modules_under(&without_comments(&source), declaring, TEST));
        modules.insert(module, production_code(&source));
    }
    modules.retain(|module, _| {
        module != "lib"
            && module != "main"
            && !test_only
                .iter()
                .any(|test| module == test || module.starts_with(&format!("{test}::")))
    });
    modules
}

/// Within a layer, modules are peers: still, none may need another that needs it back.
/// (A module using its parent's items, such as `super::Simulator`, is not an edge: the
/// parent is where it is declared.) Checked in the exporter and in each crate.
#[test]
fn no_two_modules_import_each_other_even_within_a_layer() {
    for src in source_dirs() {
        no_import_cycle(&modules(&src));
    }
}

fn no_import_cycle(modules: &BTreeMap<String, String>) {
    let owner = |path: &str| {
        modules
            .keys()
            .filter(|module| path == module.as_str() || path.starts_with(&format!("{module}::")))
            .max_by_key(|module| module.len())
            .cloned()
    };
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in modules {
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
    assert!(edges.len() > 5, "every module was read: {:?}", edges.keys());
}

/// A dependency on a package of the workspace: (its table, the package, its entry).
type OnOurs = (String, String, toml::Value);

/// The packages of the workspace, by name, each with its manifest and the dependencies it
/// names on the others. The tables are `dependencies`, `dev-dependencies` and
/// `build-dependencies`, also under a `[target.'cfg(..)']`.
fn workspace_dependencies() -> BTreeMap<String, (toml::Table, Vec<OnOurs>)> {
    let mut manifests = vec![root().join("Cargo.toml")];
    manifests.extend(crate_dirs().iter().map(|dir| dir.join("Cargo.toml")));
    let manifests: Vec<toml::Table> = manifests
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap().parse().unwrap())
        .collect();
    let name = |manifest: &toml::Table| manifest["package"]["name"].as_str().unwrap().to_owned();
    let ours: BTreeSet<String> = manifests.iter().map(name).collect();
    let mut packages = BTreeMap::new();
    for manifest in manifests {
        let mut tables = vec![(String::new(), &manifest)];
        if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
            for (cfg, target) in targets {
                tables.push((format!("target.{cfg}."), target.as_table().unwrap()));
            }
        }
        let mut named = Vec::new();
        for (prefix, table) in tables {
            for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
                let Some(dependencies) = table.get(kind).and_then(|d| d.as_table()) else {
                    continue;
                };
                for (key, entry) in dependencies {
                    // `alias = { package = "genesys-sim" }` depends on genesys-sim.
                    let package = entry.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                    if ours.contains(package) {
                        named.push((format!("{prefix}{kind}"), package.to_owned(), entry.clone()));
                    }
                }
            }
        }
        packages.insert(name(&manifest), (manifest, named));
    }
    packages
}

/// The crates sit below the exporter: the wire crate depends on none of ours, the
/// simulator on the wire crate alone, and the exporter on the simulator only through its
/// `demo` feature (its tests and benches may use it always).
#[test]
fn the_crates_depend_on_each_other_downwards_only() {
    let packages = workspace_dependencies();
    let names: Vec<&String> = packages.keys().collect();
    assert_eq!(names, ["genesys-exporter", "genesys-sim", "genesys-wire"]);
    let on = |package: &str| -> Vec<(String, String)> {
        packages[package]
            .1
            .iter()
            .map(|(table, name, _)| (table.clone(), name.clone()))
            .collect()
    };
    let pair = |table: &str, name: &str| (table.to_owned(), name.to_owned());
    assert_eq!(on("genesys-wire"), [], "the wire crate is a leaf");
    assert_eq!(
        on("genesys-sim"),
        [pair("dependencies", "genesys-wire")],
        "the simulator builds on the wire crate alone"
    );

    let (exporter, named) = &packages["genesys-exporter"];
    for (table, name, entry) in named {
        if name == "genesys-sim" && table == "dependencies" {
            assert_eq!(
                entry.get("optional").and_then(|o| o.as_bool()),
                Some(true),
                "the exporter's dependency on the simulator is optional: {entry}"
            );
        } else {
            assert!(
                name == "genesys-wire" || table == "dev-dependencies",
                "the exporter's {table} name {name}"
            );
        }
    }
    let features = exporter["features"].as_table().unwrap();
    for (feature, enables) in features {
        let enables: Vec<&str> = enables
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        let simulator = enables.iter().any(|e| {
            *e == "genesys-sim" || e.starts_with("dep:genesys-sim") || e.starts_with("genesys-sim/")
        });
        assert_eq!(
            simulator,
            feature == "demo",
            "only the `demo` feature brings in the simulator; `{feature}` = {enables:?}"
        );
    }
}

/// The exporter's code names the simulator only in items that the `demo` feature builds:
/// `#[cfg(feature = "demo")]` items, and modules declared under that attribute (tests
/// aside, which may use it always).
#[test]
fn the_exporter_uses_the_simulator_only_behind_the_demo_feature() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut demo_only = Vec::new();
    let mut code = BTreeMap::new();
    for file in files {
        let module = module_path(&src, &file);
        let source = without_comments(&std::fs::read_to_string(&file).unwrap());
        let declaring = if module == "lib" || module == "main" {
            ""
        } else {
            &module
        };
        demo_only.extend(modules_under(&source, declaring, DEMO));
        demo_only.extend(modules_under(&source, declaring, TEST));
        code.insert(module, without_items_under(&production_code(&source), DEMO));
    }
    assert!(demo_only.contains(&"cli::demo".to_owned()), "{demo_only:?}");
    let mut problems = Vec::new();
    for (module, code) in &code {
        if demo_only
            .iter()
            .any(|demo| module == demo || module.starts_with(&format!("{demo}::")))
        {
            continue;
        }
        for (number, line) in code.lines().enumerate() {
            if line.contains("genesys_sim") {
                problems.push(format!(
                    "{module}, line {}: `{}` outside a #[cfg(feature = \"demo\")] item",
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_item_under_cfg_test_is_left_out() {
    let source = r#"
use crate::a;
#[cfg(test)]
mod testing;
use crate::b;
#[cfg(test)]
use crate::c::{d, e};
#[cfg(test)]
#[allow(dead_code)]
impl<A, B> Thing<A, B> where A: Into<B> {
    fn f(&self) -> [u8; 2] { let s = "}"; let c = '}'; [0, 1] }
}
use crate::f; // crate::g in a comment
#[cfg(test)]
static S: T = T { x: 1 };
/* crate::h /* nested */ */ use crate::i;
#[cfg(test)]
mod tests {
    use crate::j;
}
fn k() { let url = "http://crate::x"; }
"#;
    let code = production_code(source);
    assert_eq!(code.lines().count(), source.lines().count(), "{code}");
    assert_eq!(imports(&code, "m"), ["a", "b", "f", "i", "x"], "{code}");
    assert_eq!(modules_under(source, "m", TEST), ["m::testing"]);

    let demo = r#"
struct Args {
    #[cfg(feature = "demo")]
    demo: Vec<Option<genesys_sim::X>>,
    listen: String
}
match command {
    #[cfg(feature = "demo")]
    Some(Command::Simulate(args)) => genesys_sim::simulate(args),
    None => run(),
}
#[cfg(feature = "demo")]
let (a, b) = { genesys_sim::start() };
#[cfg(feature = "demo")]
if demo { genesys_sim::go() }
after();
"#;
    let kept = without_items_under(demo, DEMO);
    assert!(!kept.contains("genesys_sim"), "{kept}");
    for still in ["listen: String", "None => run()", "after();"] {
        assert!(kept.contains(still), "{still} is kept: {kept}");
    }
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

/// One module-file style: a module with modules of its own is a folder with a `mod.rs`,
/// never `x.rs` beside a folder `x/`.
#[test]
fn a_module_with_children_is_a_folder_with_mod_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let beside: Vec<String> = files
        .iter()
        .filter(|file| file.with_extension("").is_dir())
        .map(|file| file.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(
        beside.is_empty(),
        "move each to its folder's mod.rs: {beside:?}"
    );
    assert!(files.len() > 50, "every file was read: {}", files.len());
}
