//! The module layout holds: every `crate::` path in `src/` is allowed by the table below (the
//! same table `docs/architecture.md` shows), the top-level modules import one another without a
//! cycle, and no file or function outgrows the limits the layout is meant to keep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::root;

/// What each top-level module of `src/` may use. An entry `search::probe` allows that
/// submodule only; an entry `search` allows all of it. `app` may use everything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("util", &[]),
    ("model", &["util"]),
    ("records", &["model", "util"]),
    ("stats", &["model", "records", "util"]),
    ("mockserver", &["util"]),
    ("server_metrics", &["model", "stats", "util"]),
    ("cost", &["model", "records", "stats", "util"]),
    ("results", &["model", "records", "stats", "server_metrics", "util"]),
    ("tt", &["model", "records", "results", "stats", "util"]),
    ("search", &["model", "records", "results", "server_metrics", "cost", "stats", "util"]),
    (
        "config",
        &["model", "records", "stats", "tt", "search::spec", "cost::spec", "mockserver", "util"],
    ),
    (
        "plan",
        &["config", "model", "records", "search::probe", "tt", "cost::spec", "mockserver", "util"],
    ),
    ("scaleout", &["plan", "model", "records", "search::probe", "util"]),
    ("run", &["config", "plan", "model", "records", "scaleout::shard", "search::probe", "util"]),
    (
        "report",
        &["results", "model", "records", "server_metrics", "cost", "stats", "tt", "search", "util"],
    ),
    ("app", &["*"]),
];

const DOC: &str = "docs/architecture.md";
const BEGIN: &str = "<!-- allowed-imports: begin (tests/architecture.rs checks this table) -->";
const END: &str = "<!-- allowed-imports: end -->";

/// Files that are generated tables, exempt from the size limit.
const GENERATED: &[&str] = &["src/model/aiperf_options.rs"];
const MAX_FILE_LINES: usize = 700;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root, or an entry point:
/// `main.rs` and the programs in `src/bin/`).
fn module_of(rel: &Path) -> Option<String> {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    if first == "bin" {
        return None;
    }
    if parts.next().is_some() {
        return Some(first);
    }
    let stem = first.trim_end_matches(".rs");
    (stem != "lib" && stem != "main").then(|| stem.to_owned())
}

/// Code without comments (`//` to the end of a line, doc comments included).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits `a::b, c::{d, e}` at its top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in s.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

/// The first two segments of each path a `crate::` reference names: `crate::a::b::c` ->
/// `a::b`; `crate::{a::b, c}` -> `a::b`, `c`; `crate::a::{b, c::d}` -> `a::b`, `a::c`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `sweeper_crate::`, not ours
        }
        let group = |s: &str| -> Option<(String, usize)> {
            let mut depth = 0;
            for (j, ch) in s.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((s[1..j].to_owned(), j + 1));
                        }
                    }
                    _ => {}
                }
            }
            None
        };
        let ident = |s: &str| -> String {
            s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
        };
        if rest.starts_with('{') {
            if let Some((inner, _)) = group(rest) {
                for p in split_top(&inner) {
                    let mut segs = p.split("::").map(|s| ident(s.trim()));
                    let first = segs.next().unwrap_or_default();
                    match segs.next().filter(|s| !s.is_empty()) {
                        Some(second) => out.push(format!("{first}::{second}")),
                        None => out.push(first),
                    }
                }
            }
            continue;
        }
        let first = ident(rest);
        let after = &rest[first.len()..];
        if let Some(tail) = after.strip_prefix("::") {
            if tail.starts_with('{') {
                if let Some((inner, _)) = group(tail) {
                    for p in split_top(&inner) {
                        let second = ident(&p);
                        if second == "self" || second.is_empty() {
                            out.push(first.clone());
                        } else {
                            out.push(format!("{first}::{second}"));
                        }
                    }
                }
            } else {
                out.push(format!("{first}::{}", ident(tail)));
            }
        } else {
            out.push(first);
        }
    }
    out
}

fn allowed(module: &str, path: &str) -> bool {
    let Some((_, list)) = ALLOWED.iter().find(|(m, _)| *m == module) else { return false };
    let top = path.split("::").next().unwrap_or(path);
    list.iter().any(|a| *a == "*" || *a == top || *a == path)
}

/// Every file of `src/` with its module and the crate paths it names.
fn imports() -> Vec<(String, String, Vec<String>)> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(root().join("src")).unwrap();
            let module = module_of(rel)?;
            let code = code_of(&std::fs::read_to_string(f).unwrap());
            Some((format!("src/{}", rel.display()), module, crate_paths(&code)))
        })
        .collect()
}

#[test]
fn the_path_reader_understands_every_use_form() {
    let code = "use crate::a::b::C;\nuse crate::{c::d, e};\nuse crate::f::{self, g::H, i};\nlet x = crate::j::k(1); // crate::zz::y\nuse sweeper_crate::q;";
    assert_eq!(
        crate_paths(&code_of(code)),
        ["a::b", "c::d", "e", "f", "f::g", "f::i", "j::k"].map(String::from)
    );
}

#[test]
fn every_import_is_allowed_by_the_table() {
    let modules: BTreeSet<String> = imports().into_iter().map(|(_, m, _)| m).collect();
    let undeclared: Vec<&String> =
        modules.iter().filter(|m| !ALLOWED.iter().any(|(a, _)| a == m)).collect();
    assert!(undeclared.is_empty(), "modules missing from ALLOWED: {undeclared:?}");
    let mut bad = Vec::new();
    for (file, module, paths) in imports() {
        for p in paths {
            let top = p.split("::").next().unwrap();
            if top != module && !allowed(&module, &p) {
                bad.push(format!("{file}: `{module}` uses `crate::{p}`"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports the table in tests/architecture.rs (and docs/architecture.md) does not allow:\n{}",
        bad.join("\n")
    );
}

#[test]
fn top_level_modules_import_one_another_without_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, module, paths) in imports() {
        let entry = graph.entry(module.clone()).or_default();
        for p in paths {
            let top = p.split("::").next().unwrap().to_owned();
            if top != module {
                entry.insert(top);
            }
        }
    }
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, &graph, &mut state, &mut Vec::new())
        {
            panic!("import cycle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_table_is_acyclic_and_keeps_the_rules() {
    // The table itself is acyclic: following its entries never returns to where it started.
    for (m, _) in ALLOWED {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = vec![m];
        while let Some(x) = todo.pop() {
            let list = ALLOWED.iter().find(|(a, _)| *a == x).map(|(_, l)| *l).unwrap_or(&[]);
            for d in list.iter().map(|d| d.split("::").next().unwrap()) {
                if d == "*" {
                    continue;
                }
                assert_ne!(d, *m, "the table lets `{m}` reach itself");
                if seen.insert(d) {
                    todo.push(d);
                }
            }
        }
    }
    assert!(!allowed("run", "results::read_one"), "run decides nothing from results");
    assert!(!allowed("run", "search::verdict"), "run gets its verdicts from the app");
    assert!(!allowed("results", "tt::standard"), "parsers write no files");
    assert!(!allowed("report", "app::output"), "reporters do not print");
}

/// The table as `docs/architecture.md` shows it.
fn rendered_table() -> String {
    let mut s = String::from("| module | may use |\n| --- | --- |\n");
    for (m, list) in ALLOWED {
        let uses = if list.is_empty() {
            "nothing".to_owned()
        } else if list == &["*"] {
            "everything".to_owned()
        } else {
            list.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
        };
        s.push_str(&format!("| `{m}` | {uses} |\n"));
    }
    s
}

#[test]
fn the_documented_table_is_the_enforced_one() {
    let doc = std::fs::read_to_string(root().join(DOC)).unwrap();
    let (Some(a), Some(b)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{DOC} lacks the markers {BEGIN} ... {END}");
    };
    let shown = doc[a + BEGIN.len()..b].trim();
    let want = rendered_table();
    assert_eq!(shown, want.trim(), "{DOC}'s table differs; it should read:\n{want}");
}

#[test]
fn no_file_outgrows_the_limit() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let big: Vec<String> = files
        .iter()
        .filter(|f| !GENERATED.iter().any(|g| f.ends_with(g)))
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_FILE_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(big.is_empty(), "files over {MAX_FILE_LINES} lines: {big:?}");
}

/// Most lines a function may span (its signature to its closing brace).
const MAX_FN_LINES: usize = 80;

/// `text` with comments, string and char literals blanked (newlines kept), so braces and
/// keywords are only code.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b.get(i.wrapping_sub(1)).is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(b[i..j.min(b.len())].iter().map(|c| blank(*c)));
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            out.extend(b[i..(j + 1).min(b.len())].iter().map(|c| blank(*c)));
            i = j + 1;
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); a lifetime ('a) is left as code.
            let mut j = i + 1;
            if b[j] == '\\' {
                j += 2;
            } else {
                j += 1;
            }
            while j < b.len() && b[j] != '\'' {
                j += 1;
            }
            out.extend(b[i..(j + 1).min(b.len())].iter().map(|c| blank(*c)));
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// (name, first line, lines) of every function with a body in `code`, before `#[cfg(test)]`.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let code = code.split("#[cfg(test)]").next().unwrap_or("");
    let chars: Vec<char> = code.chars().collect();
    let line_at = |i: usize| chars[..i].iter().filter(|c| **c == '\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < chars.len() {
        let before = if i == 0 { ' ' } else { chars[i - 1] };
        let is_fn = chars[i] == 'f'
            && chars[i + 1] == 'n'
            && chars[i + 2].is_whitespace()
            && !(before.is_alphanumeric() || before == '_');
        if !is_fn {
            i += 1;
            continue;
        }
        let name: String = chars[i + 3..]
            .iter()
            .skip_while(|c| c.is_whitespace())
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        // The body: the first `{` before a `;` (a declaration without a body has none).
        let mut j = i;
        while j < chars.len() && chars[j] != '{' && chars[j] != ';' {
            j += 1;
        }
        if j >= chars.len() || chars[j] == ';' || name.is_empty() {
            i += 3;
            continue;
        }
        let mut depth = 0;
        let mut k = j;
        while k < chars.len() {
            match chars[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let (first, last) = (line_at(i), line_at(k.min(chars.len() - 1)));
        out.push((name, first, last - first + 1));
        i += 3;
    }
    out
}

#[test]
fn the_function_reader_skips_strings_comments_and_chars() {
    let src = "fn a() {\n    let s = \"}\"; // }\n    let c = '}';\n    let r = r#\"}\"#;\n    x::<'a>();\n}\nfn b();\nfn c() { }\n";
    let f = functions(&code_only(src));
    assert_eq!(f, [("a".to_owned(), 1, 6), ("c".to_owned(), 8, 1)]);
}

#[test]
fn no_function_outgrows_the_limit() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut long = Vec::new();
    for f in files.iter().filter(|f| !GENERATED.iter().any(|g| f.ends_with(g))) {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for (name, line, n) in functions(&code) {
            if n > MAX_FN_LINES {
                long.push(format!("{}:{line} `{name}` ({n} lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn no_error_is_a_bare_string() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut bare = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let code = code_only(&text);
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        for (n, l) in code.lines().enumerate() {
            let squeezed: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            if squeezed.contains("Result<") && squeezed.contains(",String>") {
                bare.push(format!("{}:{}: {}", f.display(), n + 1, l.trim()));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "`Result<_, String>` outside tests (give it a typed error):\n{}",
        bare.join("\n")
    );
}
