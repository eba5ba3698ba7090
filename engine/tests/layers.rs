//! The engine's layering, read from its source: every `crate::<module>`
//! reference in `engine/src` (the binary excluded) is an edge between
//! top-level modules. Import circles make a module impossible to change or
//! test without its dependants, and settings or the API leaking downwards
//! would tie the pipeline to one transport; this test keeps both out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules only the composition root (`server`) may import: the layered
/// settings and the HTTP transports (the API, the console) sit at the edges.
const EDGE_MODULES: [&str; 3] = ["config", "api", "console"];
/// The composition root: nothing in the library depends on it.
const ROOT: &str = "server";
/// The exporter of metrics, which the layers it observes do not know: they
/// expose plain counters and views that it reads (or observers it
/// implements).
const EXPORTER: &str = "metrics";
const OBSERVED: [&str; 2] = ["runtime", "store"];

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The top-level module a file belongs to (`store/redb/mod.rs` → `store`),
/// or `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The source without `//` comments, so that doc links and prose naming a
/// module are not counted as imports.
fn code_only(source: &str) -> String {
    source.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules named by `crate::x` paths and by the groups of
/// `crate::{a, b::c, d::{e, f}}`.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == '$') {
            continue; // e.g. `$crate::` or `my_crate::`
        }
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start_of_item = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start_of_item = true,
                    c if start_of_item && is_ident(c) => {
                        let name: String = group[i..].chars().take_while(|&c| is_ident(c)).collect();
                        found.insert(name);
                        start_of_item = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Module → the other top-level modules it references.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        if file.starts_with(src.join("bin")) {
            continue;
        }
        let Some(module) = module_of(&src, &file) else { continue };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(referenced_modules(&code).into_iter().filter(|name| *name != module && name != "self"));
    }
    graph
}

/// One cycle in `graph`, as the path `a → b → … → a`, if there is any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(node, Mark::OnPath);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next.as_str()).copied().unwrap_or(Mark::Unvisited) {
                Mark::OnPath => {
                    let start = path.iter().position(|n| n == next).unwrap();
                    let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::Unvisited => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node.as_str()).copied().unwrap_or(Mark::Unvisited) == Mark::Unvisited
            && let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_reference_parser_reads_paths_and_groups() {
    let code = code_only(
        "use crate::store::Store;\nuse crate::{model::Hook, time::{self, now}, quota};\n\
         // crate::config in a comment\nlet x = $crate::ignored; crate::metrics::inc();",
    );
    let names: Vec<String> = referenced_modules(&code).into_iter().collect();
    assert_eq!(names, ["metrics", "model", "quota", "store", "time"]);
}

#[test]
fn the_cycle_finder_names_the_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
            .into_iter()
            .map(|(n, e)| (n.to_owned(), e.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
}

#[test]
fn no_import_cycles_between_top_level_modules() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the source was not found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle between top-level modules: {}", cycle.join(" → "));
    }
}

#[test]
fn settings_the_api_and_the_exporter_stay_at_the_edges() {
    let graph = module_graph();
    let mut violations = Vec::new();
    for (module, edges) in &graph {
        if edges.contains(ROOT) {
            violations.push(format!("{module} imports {ROOT}, the composition root"));
        }
        for edge in EDGE_MODULES {
            if edges.contains(edge) && module != ROOT {
                violations.push(format!("{module} imports {edge}; only {ROOT} may"));
            }
        }
        if OBSERVED.contains(&module.as_str()) && edges.contains(EXPORTER) {
            violations.push(format!("{module} imports {EXPORTER}; it should expose plain views instead"));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The bottom layers and the only modules each may import: the domain
/// model knows no storage, transport or runtime; the store knows the model
/// and leaf utilities, never the pipelines, the plugin runtime or the
/// catalogue built above it, so another backend can sit in its place.
const BOTTOM: [(&str, &[&str]); 2] = [
    ("model", &["time", "secrets"]),
    ("store", &["model", "time", "secrets", "data_dir", "backoff", "quota", "units"]),
];

#[test]
fn the_model_and_the_store_import_only_what_is_below_them() {
    let graph = module_graph();
    let mut violations = Vec::new();
    for (module, allowed) in BOTTOM {
        let edges = graph.get(module).unwrap_or_else(|| panic!("no module {module}"));
        violations.extend(
            edges
                .iter()
                .filter(|edge| !allowed.contains(&edge.as_str()))
                .map(|edge| format!("{module} imports {edge}")),
        );
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
