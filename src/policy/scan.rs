//! Finds dangerous constructs in the Python lines a fix adds: process execution, dynamic code,
//! network clients, decoded payloads, writes outside the project and environment tampering.
//!
//! Pure: two texts in, findings out. It reads code through tree-sitter, so a word inside a
//! string or a comment is never mistaken for code, and names are resolved through the file's
//! imports (`import subprocess as sp` makes `sp.run` a process execution). It is a tripwire
//! for fixes no person reviews, not a sandbox: determined obfuscation gets past any such list,
//! so it errs on the side of flagging, and it must never call a construct safe because it
//! could not read it.

use std::collections::{BTreeSet, HashMap};

use tree_sitter::Node;

use super::added::added_rows;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Process,
    Dynamic,
    Network,
    Payload,
    Outside,
    Environment,
    Native,
}

impl Category {
    fn label(self) -> &'static str {
        match self {
            Category::Process => "process execution",
            Category::Dynamic => "dynamic code",
            Category::Network => "network client",
            Category::Payload => "decoded payload",
            Category::Outside => "write outside the project",
            Category::Environment => "environment tampering",
            Category::Native => "native code",
        }
    }
}

use Category::{Dynamic, Environment, Native, Network, Outside, Payload, Process};

/// Dotted names that are dangerous to reference at all, matched segment by segment against
/// the name after import aliases are resolved. A segment ending in `*` matches any segment
/// that begins so; the name may go on past the pattern (`subprocess.run` matches
/// `subprocess`). Naming one is enough: `f = os.system` hands out the same power as a call.
const NAMES: &[(&str, Category)] = &[
    ("os.system", Process),
    ("os.popen", Process),
    ("os.exec*", Process),
    ("os.spawn*", Process),
    ("os.posix_spawn*", Process),
    ("subprocess", Process),
    ("pty", Process),
    ("commands", Process),
    ("asyncio.create_subprocess_*", Process),
    ("os.fork*", Process),
    ("os.setsid", Process),
    ("os.setpgid", Process),
    ("os.setpgrp", Process),
    ("os.kill*", Process),
    ("os.daemon*", Process),
    ("multiprocessing", Process),
    ("importlib", Dynamic),
    ("sys.modules", Dynamic),
    ("ctypes", Native),
    ("cffi", Native),
    ("_ctypes", Native),
    ("builtins.eval", Dynamic),
    ("builtins.exec", Dynamic),
    ("builtins.compile", Dynamic),
    ("builtins.__import__", Dynamic),
    ("__builtins__", Dynamic),
    ("socket", Network),
    ("urllib.request", Network),
    ("urllib2", Network),
    ("urllib3", Network),
    ("http.client", Network),
    ("httplib", Network),
    ("ftplib", Network),
    ("smtplib", Network),
    ("telnetlib", Network),
    ("paramiko", Network),
    ("requests", Network),
    ("httpx", Network),
    ("aiohttp", Network),
    ("asyncio.open_connection", Network),
    ("base64.*decode*", Payload),
    ("binascii.unhexlify", Payload),
    ("binascii.a2b_*", Payload),
    ("bytes.fromhex", Payload),
    ("marshal.loads", Payload),
    ("pickle.loads", Payload),
    ("cPickle.loads", Payload),
    ("shutil.rmtree", Outside),
    ("os.putenv", Environment),
    ("os.unsetenv", Environment),
    ("os.environ.update", Environment),
    ("os.environ.setdefault", Environment),
    ("os.environ.clear", Environment),
];

/// Single names, dangerous when no import in the file binds them: the builtins, and the two
/// functions a star import or a copied snippet usually brings in bare.
const BARE: &[(&str, Category)] = &[
    ("eval", Dynamic),
    ("exec", Dynamic),
    ("compile", Dynamic),
    ("__import__", Dynamic),
    ("b64decode", Payload),
    ("urlopen", Network),
];

/// Calls that open a path: dangerous when the path is an absolute literal.
const OPENERS: &[&str] = &[
    "open",
    "builtins.open",
    "io.open",
    "os.open",
    "codecs.open",
    "Path",
    "pathlib.Path",
    "pathlib.PosixPath",
];

/// Openers whose path must be a literal: a computed path can point anywhere.
const LITERAL_OPENERS: &[&str] = &["open", "builtins.open", "io.open", "os.open", "codecs.open"];

/// Attributes that reach the interpreter's internals: the classic ways out of any name list
/// (`print.__self__` is the builtins module).
const INTERNALS: &[&str] = &[
    "__self__",
    "__builtins__",
    "__globals__",
    "__subclasses__",
    "__code__",
    "__closure__",
    "__mro__",
    "__bases__",
];

/// Calls that remove a path or change its owner or mode: dangerous on an absolute literal.
const PATH_CHANGERS: &[&str] = &[
    "os.remove",
    "os.unlink",
    "os.rmdir",
    "os.removedirs",
    "os.chmod",
    "os.chown",
    "os.lchown",
];

/// Codecs that turn text into hidden content, as `codecs.decode` names them (lowercase,
/// without `_` and `-`).
const HIDING_CODECS: &[&str] = &["hex", "hexcodec", "rot13", "base64", "base64codec"];

/// Python's string quotes, the triple ones first so that `"""a"""` is not read as `""`.
const QUOTES: &[&str] = &["\"\"\"", "'''", "\"", "'"];

/// Modules whose attributes looked up by a computed name can be anything dangerous.
const POWERFUL_MODULES: &[&str] = &[
    "os",
    "subprocess",
    "builtins",
    "__builtins__",
    "importlib",
    "socket",
];

/// The dangerous constructs in the lines `after` adds to `before`, as (1-based line in
/// `after`, what); sorted by line, each (line, what) once.
pub fn scan_added(before: &str, after: &str) -> Vec<(usize, String)> {
    let added = added_rows(before, after);
    let Some(&first) = added.first() else {
        return Vec::new();
    };
    let Some(tree) = crate::prove::syntax::parse(after) else {
        // Fail closed: code that could not be read could hold anything.
        return vec![(first + 1, "code heal could not parse to scan".to_string())];
    };
    let mut scanner = Scanner {
        source: after.as_bytes(),
        added: added.into_iter().collect(),
        aliases: HashMap::new(),
        found: BTreeSet::new(),
    };
    // Aliases come from the whole file: an import on a kept line still names what an added
    // line calls.
    scanner.walk(tree.root_node(), Scanner::collect_aliases);
    scanner.walk(tree.root_node(), Scanner::inspect);
    scanner.found.into_iter().collect()
}

/// A dotted name after import aliases are resolved.
struct Resolved {
    name: String,
    /// A single name no import binds: only [`BARE`] applies to it.
    bare: bool,
}

struct Scanner<'a> {
    source: &'a [u8],
    /// 0-based rows of added lines.
    added: BTreeSet<usize>,
    /// Local name → the dotted name an import bound it to.
    aliases: HashMap<String, String>,
    found: BTreeSet<(usize, String)>,
}

impl<'a> Scanner<'a> {
    /// Calls `visit` on every node, in document order.
    fn walk(&mut self, root: Node<'_>, mut visit: impl FnMut(&mut Self, Node<'_>)) {
        let mut cursor = root.walk();
        loop {
            visit(self, cursor.node());
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
            }
        }
    }

    fn text(&self, node: Node<'_>) -> &'a str {
        node.utf8_text(self.source).unwrap_or("")
    }

    /// A dotted name as written, without the spaces Python allows around dots.
    fn dotted(&self, node: Node<'_>) -> String {
        self.text(node)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\\')
            .collect()
    }

    /// The first added line (1-based) within `node`'s lines, if any.
    fn touches(&self, node: Node<'_>) -> Option<usize> {
        let start = node.start_position().row;
        let end = node.end_position();
        // A node ending at the start of a row does not reach into it.
        let last = if end.column == 0 && end.row > start {
            end.row - 1
        } else {
            end.row
        };
        self.added.range(start..=last).next().map(|row| row + 1)
    }

    fn report(&mut self, line: usize, construct: &str, category: Category) {
        self.found
            .insert((line, format!("{construct} ({})", category.label())));
    }

    fn collect_aliases(&mut self, node: Node<'_>) {
        match node.kind() {
            "import_statement" => {
                for name in children_by_field(node, "name") {
                    if let Some(alias) = name.child_by_field_name("alias") {
                        let module = name.child_by_field_name("name").map(|n| self.dotted(n));
                        self.bind(self.text(alias).to_string(), module.unwrap_or_default());
                    } else {
                        // `import os.path` binds `os`, to the module `os`.
                        let module = self.dotted(name);
                        let head = module.split('.').next().unwrap_or_default().to_string();
                        self.bind(head.clone(), head);
                    }
                }
            }
            "import_from_statement" => {
                let Some(module) = node.child_by_field_name("module_name") else {
                    return;
                };
                let module = self.dotted(module);
                for name in children_by_field(node, "name") {
                    let (imported, local) = match name.child_by_field_name("alias") {
                        Some(alias) => (
                            name.child_by_field_name("name").map(|n| self.dotted(n)),
                            self.text(alias).to_string(),
                        ),
                        None => (Some(self.dotted(name)), self.dotted(name)),
                    };
                    if let Some(imported) = imported {
                        self.bind(local, format!("{module}.{imported}"));
                    }
                }
            }
            _ => {}
        }
    }

    fn bind(&mut self, local: String, target: String) {
        if !local.is_empty() && !target.is_empty() {
            self.aliases.insert(local, target);
        }
    }

    fn inspect(&mut self, node: Node<'_>) {
        match node.kind() {
            "import_statement" | "import_from_statement" => self.check_import(node),
            "attribute" => {
                self.check_internals(node);
                if !is_attribute_object(node) {
                    self.check_reference(node);
                }
            }
            "identifier" if is_reference(node) => self.check_reference(node),
            "call" => self.check_call(node),
            "assignment" | "augmented_assignment" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.check_targets(node, left, "assignment to");
                }
            }
            "delete_statement" => {
                for target in named_children(node) {
                    self.check_targets(node, target, "del");
                }
            }
            "ERROR" => self.check_tokens(node),
            _ => {}
        }
    }

    /// The dotted name of an identifier or an attribute chain of identifiers (`os.path.join`),
    /// with its head resolved through the imports; `None` for anything else (`f().x`).
    fn resolve(&self, node: Node<'_>) -> Option<Resolved> {
        let mut parts = Vec::new();
        let mut current = node;
        loop {
            match current.kind() {
                "identifier" => {
                    parts.push(self.text(current));
                    break;
                }
                "attribute" => {
                    parts.push(self.text(current.child_by_field_name("attribute")?));
                    current = current.child_by_field_name("object")?;
                }
                _ => return None,
            }
        }
        parts.reverse();
        Some(self.resolve_parts(&parts))
    }

    fn resolve_parts(&self, parts: &[&str]) -> Resolved {
        let head = parts.first().copied().unwrap_or_default();
        let rest = parts.get(1..).unwrap_or_default();
        match self.aliases.get(head) {
            Some(target) => Resolved {
                name: std::iter::once(target.as_str())
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>()
                    .join("."),
                bare: false,
            },
            None => Resolved {
                name: parts.join("."),
                bare: parts.len() == 1,
            },
        }
    }

    fn check_reference(&mut self, node: Node<'_>) {
        let Some(line) = self.touches(node) else {
            return;
        };
        if let Some(resolved) = self.resolve(node)
            && let Some(category) = classify(&resolved)
        {
            self.report(line, &resolved.name, category);
        }
    }

    fn check_import(&mut self, node: Node<'_>) {
        let Some(line) = self.touches(node) else {
            return;
        };
        let mut imported = Vec::new();
        if node.kind() == "import_statement" {
            for name in children_by_field(node, "name") {
                let module = name.child_by_field_name("name").unwrap_or(name);
                imported.push(self.dotted(module));
            }
        } else {
            let Some(module) = node.child_by_field_name("module_name") else {
                return;
            };
            // A relative import names the project's own modules.
            if module.kind() == "relative_import" {
                return;
            }
            let module = self.dotted(module);
            for name in children_by_field(node, "name") {
                let name = name.child_by_field_name("name").unwrap_or(name);
                imported.push(format!("{module}.{}", self.dotted(name)));
            }
            if named_children(node).any(|c| c.kind() == "wildcard_import")
                && let Some(category) = star_category(&module)
            {
                self.report(line, &format!("from {module} import *"), category);
            }
        }
        for name in imported {
            let resolved = Resolved { name, bare: false };
            if let Some(category) = classify(&resolved) {
                self.report(line, &resolved.name, category);
            }
        }
    }

    fn check_call(&mut self, node: Node<'_>) {
        let Some(line) = self.touches(node) else {
            return;
        };
        let Some(callee) = node
            .child_by_field_name("function")
            .and_then(|f| self.resolve(f))
        else {
            return;
        };
        // The callee's own line may be kept while an added line changes its arguments;
        // changing what a dangerous call does is as dangerous as adding it.
        if let Some(category) = classify(&callee) {
            self.report(line, &callee.name, category);
        }
        let args = node
            .child_by_field_name("arguments")
            .filter(|a| a.kind() == "argument_list");
        let positional: Vec<Node<'_>> = args
            .iter()
            .flat_map(|a| named_children(*a))
            .filter(|a| !matches!(a.kind(), "keyword_argument" | "comment"))
            .collect();
        let keyword = |name: &str| {
            args.iter()
                .flat_map(|a| named_children(*a))
                .filter(|a| a.kind() == "keyword_argument")
                .find(|a| {
                    a.child_by_field_name("name")
                        .is_some_and(|n| self.text(n) == name)
                })
                .and_then(|a| a.child_by_field_name("value"))
        };
        let name = callee.name.as_str();
        let first = positional.first().copied();
        if OPENERS.contains(&name) || PATH_CHANGERS.contains(&name) || name == "os.chdir" {
            match first.and_then(|a| self.string_body(a)) {
                Some(path) if is_absolute(path) || leaves_the_project(path) => {
                    // The body still ends with its closing quote; the finding shows the path
                    // alone.
                    let shown: String = path
                        .trim_end_matches(['\'', '"'])
                        .chars()
                        .take(60)
                        .collect();
                    self.report(line, &format!("{name}('{shown}')"), Outside);
                }
                Some(_) => {}
                None if first.is_some()
                    && (LITERAL_OPENERS.contains(&name) || name == "os.chdir") =>
                {
                    self.report(
                        line,
                        &format!("{name} of a path computed at run time"),
                        Outside,
                    );
                }
                None => {}
            }
        } else if name == "importlib.import_module" {
            if first.and_then(|a| self.literal(a)).is_none() {
                self.report(line, "importlib.import_module of a computed name", Dynamic);
            }
        } else if name == "codecs.decode" {
            let codec = positional.get(1).copied().or_else(|| keyword("encoding"));
            if let Some(codec) = codec.and_then(|c| self.literal(c)) {
                let normal: String = codec
                    .to_lowercase()
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .collect();
                if HIDING_CODECS.contains(&normal.as_str()) {
                    self.report(line, &format!("codecs.decode with '{codec}'"), Payload);
                }
            }
        } else if matches!(
            name,
            "setattr" | "getattr" | "builtins.setattr" | "builtins.getattr"
        ) {
            self.check_dynamic_attribute(line, name, &positional);
        }
    }

    /// `x.__self__`, `f.__globals__`: the interpreter's internals, reached from anything.
    fn check_internals(&mut self, node: Node<'_>) {
        let Some(attribute) = node.child_by_field_name("attribute") else {
            return;
        };
        let name = self.text(attribute);
        if INTERNALS.contains(&name)
            && let Some(line) = self.touches(attribute)
        {
            self.report(line, &format!("the attribute {name}"), Dynamic);
        }
    }

    /// `setattr(os, ...)` rewrites the process's environment or functions;
    /// `getattr(os, "system")` reaches a dangerous name without writing it.
    fn check_dynamic_attribute(&mut self, line: usize, name: &str, args: &[Node<'_>]) {
        if name.ends_with("getattr")
            && let Some(attribute) = args.get(1)
            && self.literal(*attribute).is_none()
        {
            // A name computed at run time can be any attribute of anything.
            self.report(line, "getattr with a name computed at run time", Dynamic);
            return;
        }
        let Some(object) = args.first().and_then(|a| self.resolve(*a)) else {
            return;
        };
        let module = object.name.as_str();
        if name.ends_with("setattr") {
            if module == "os" || module.starts_with("os.") {
                self.report(line, &format!("setattr({module}, ...)"), Environment);
            }
            return;
        }
        match args.get(1).and_then(|a| self.literal(*a)) {
            Some(attribute) => {
                let target = Resolved {
                    name: format!("{module}.{attribute}"),
                    bare: false,
                };
                if let Some(category) = classify(&target) {
                    self.report(line, &format!("getattr({module}, '{attribute}')"), category);
                }
            }
            None if POWERFUL_MODULES.contains(&module) => {
                self.report(line, &format!("getattr({module}, ...)"), Dynamic);
            }
            None => {}
        }
    }

    /// Flags `os.environ[...]` and `os.environ` among the targets of an assignment or a `del`.
    fn check_targets(&mut self, statement: Node<'_>, target: Node<'_>, verb: &str) {
        if matches!(
            target.kind(),
            "pattern_list"
                | "tuple_pattern"
                | "list_pattern"
                | "expression_list"
                | "tuple"
                | "list"
        ) {
            for inner in named_children(target) {
                self.check_targets(statement, inner, verb);
            }
            return;
        }
        let named = match target.kind() {
            "subscript" => target.child_by_field_name("value"),
            _ => Some(target),
        };
        let Some(resolved) = named.and_then(|n| self.resolve(n)) else {
            return;
        };
        if (resolved.name == "os.environ" || resolved.name.starts_with("os.environ."))
            && let Some(line) = self.touches(statement)
        {
            self.report(line, &format!("{verb} {}", resolved.name), Environment);
        }
    }

    /// Inside a region tree-sitter could not parse, the structure is unreliable but the
    /// tokens are not: dotted names are rebuilt from the leaves so that nothing hides there.
    fn check_tokens(&mut self, node: Node<'_>) {
        let mut leaves = Vec::new();
        collect_leaves(node, &mut leaves);
        let mut i = 0;
        while i < leaves.len() {
            if leaves[i].kind() != "identifier" {
                i += 1;
                continue;
            }
            let start = leaves[i];
            let mut parts = vec![self.text(start)];
            i += 1;
            while i + 1 < leaves.len()
                && leaves[i].kind() == "."
                && leaves[i + 1].kind() == "identifier"
            {
                parts.push(self.text(leaves[i + 1]));
                i += 2;
            }
            let resolved = self.resolve_parts(&parts);
            let called = leaves.get(i).is_some_and(|n| n.kind() == "(");
            // A bare name is only a builtin when it is called; otherwise it is likely a
            // variable of the same name.
            if (!resolved.bare || called)
                && let Some(category) = classify(&resolved)
                && let Some(line) = self.touches(start)
            {
                self.report(line, &resolved.name, category);
            }
        }
    }

    /// The text of a string literal with no interpolation (`'hex'`, `"a" "b"`).
    fn literal(&self, node: Node<'_>) -> Option<String> {
        match node.kind() {
            "string" if !named_children(node).any(|c| c.kind() == "interpolation") => {
                let text = self
                    .text(node)
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic());
                QUOTES.iter().find_map(|q| {
                    let inner = text.strip_prefix(q)?.strip_suffix(q)?;
                    Some(inner.to_string())
                })
            }
            "concatenated_string" => named_children(node)
                .map(|s| self.literal(s))
                .collect::<Option<String>>(),
            _ => None,
        }
    }

    /// A string's text after its prefix and opening quote (the closing quote is kept): enough
    /// to see how an f-string begins even when it has interpolations.
    fn string_body(&self, node: Node<'_>) -> Option<&'a str> {
        let string = match node.kind() {
            "string" => node,
            "concatenated_string" => named_children(node).next()?,
            _ => return None,
        };
        let text = self
            .text(string)
            .trim_start_matches(|c: char| c.is_ascii_alphabetic());
        QUOTES.iter().find_map(|q| text.strip_prefix(q))
    }
}

/// A pattern of [`NAMES`] or [`BARE`] that `name` matches, if any.
fn classify(name: &Resolved) -> Option<Category> {
    if name.bare {
        return BARE
            .iter()
            .find(|(bare, _)| *bare == name.name)
            .map(|(_, category)| *category);
    }
    NAMES
        .iter()
        .find(|(pattern, _)| matches_pattern(pattern, &name.name))
        .map(|(_, category)| *category)
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    let mut parts = name.split('.');
    pattern.split('.').all(|want| {
        parts
            .next()
            .is_some_and(|part| match want.strip_suffix('*') {
                Some(prefix) => segment_matches(prefix, part),
                None => want == part,
            })
    })
}

/// Matches one name segment against a pattern segment whose final `*` was removed: the
/// segment must begin with `prefix`, and an inner `*` (`*decode` from `*decode*`) stands for
/// anything, so `b64decode` and `urlsafe_b64decode` both match `*decode`.
fn segment_matches(prefix: &str, part: &str) -> bool {
    match prefix.split_once('*') {
        Some((head, tail)) => part
            .strip_prefix(head)
            .is_some_and(|rest| rest.contains(tail)),
        None => part.starts_with(prefix),
    }
}

/// The category of `from module import *`: the module is dangerous, or holds a dangerous
/// name the star brings in bare (`from os import *` brings `system`).
fn star_category(module: &str) -> Option<Category> {
    NAMES.iter().find_map(|(pattern, category)| {
        let within = pattern
            .strip_prefix(module)
            .is_some_and(|rest| rest.starts_with('.'));
        (within || matches_pattern(pattern, module)).then_some(*category)
    })
}

/// A path literal that leaves the project: absolute, home-relative or a Windows drive.
/// Whether a relative path climbs out of where it starts (`../x`, `a/../../b`).
fn leaves_the_project(path: &str) -> bool {
    let path = path.trim_end_matches(['\'', '"']);
    let mut depth: i32 = 0;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('~')
        || path.starts_with('\\')
        || (bytes.len() >= 3
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && matches!(bytes[2], b'\\' | b'/'))
}

/// Whether an `attribute` node is the object of a longer chain (`os.path` in `os.path.join`):
/// only the longest chain is judged, so one construct is named once, in full.
fn is_attribute_object(node: Node<'_>) -> bool {
    node.parent().is_some_and(|p| {
        p.kind() == "attribute"
            && p.child_by_field_name("object").map(|o| o.id()) == Some(node.id())
    })
}

/// Whether an identifier stands for a value (a call's callee, an argument, the right side of
/// an assignment, ...), rather than naming a parameter, a keyword, a definition or the member
/// of an attribute chain.
fn is_reference(node: Node<'_>) -> bool {
    let Some(parent) = node.parent() else {
        return false;
    };
    let is_field =
        |field: &str| parent.child_by_field_name(field).map(|f| f.id()) == Some(node.id());
    match parent.kind() {
        "call" => is_field("function"),
        "keyword_argument" | "default_parameter" | "typed_default_parameter" | "pair" => {
            is_field("value")
        }
        "assignment" | "augmented_assignment" => is_field("right"),
        "argument_list"
        | "return_statement"
        | "expression_list"
        | "list"
        | "tuple"
        | "set"
        | "conditional_expression"
        | "boolean_operator"
        | "parenthesized_expression"
        | "interpolation"
        | "decorator"
        | "lambda" => true,
        _ => false,
    }
}

fn named_children<'t>(node: Node<'t>) -> impl Iterator<Item = Node<'t>> {
    (0..node.named_child_count()).filter_map(move |i| node.named_child(i as u32))
}

fn children_by_field<'t>(node: Node<'t>, field: &str) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children_by_field_name(field, &mut cursor).collect()
}

/// The leaves of `node` in order, skipping strings and comments, whose words are not code.
fn collect_leaves<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    if matches!(node.kind(), "string" | "comment") {
        return;
    }
    if node.child_count() == 0 {
        out.push(node);
        return;
    }
    for i in 0..node.child_count() {
        if let Some(child) = node.child(i) {
            collect_leaves(child, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings of adding `added` (one or more lines) after a kept first line.
    fn added(added: &str) -> Vec<(usize, String)> {
        let before = "import os\n";
        scan_added(before, &format!("{before}{added}"))
    }

    fn whats(added_code: &str) -> Vec<String> {
        added(added_code).into_iter().map(|(_, w)| w).collect()
    }

    #[test]
    fn added_os_system_is_process_execution_on_its_line() {
        assert_eq!(
            added("os.system('ls')\n"),
            vec![(2, "os.system (process execution)".to_string())]
        );
    }

    #[test]
    fn os_system_on_a_kept_line_is_not_flagged() {
        let before = "import os\nos.system('ls')\nx = 1\n";
        let after = "import os\nos.system('ls')\nx = 2\n";
        assert_eq!(scan_added(before, after), vec![]);
    }

    #[test]
    fn eval_in_a_string_or_comment_is_not_flagged() {
        assert_eq!(
            whats("msg = 'call eval() later'  # eval(x) too\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            whats("s = \"\"\"os.system('x')\"\"\"\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn eval_called_is_dynamic_code_but_a_method_named_eval_is_not() {
        assert_eq!(whats("y = eval(x)\n"), vec!["eval (dynamic code)"]);
        assert_eq!(
            whats("y = model.eval()\nz = re.compile('a')\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn added_lines_inside_a_docstring_are_not_code() {
        assert_eq!(
            whats(
                "def f():\n    \"\"\"Never call\n    os.system('x') or eval(y) here.\n    \"\"\"\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn dunder_import_chain_is_dynamic_code() {
        assert_eq!(
            whats("__import__('os').system('id')\n"),
            vec!["__import__ (dynamic code)"]
        );
    }

    #[test]
    fn code_inside_an_f_string_is_scanned() {
        assert_eq!(whats("s = f'{eval(x)}'\n"), vec!["eval (dynamic code)"]);
    }

    #[test]
    fn aliases_are_resolved_through_imports() {
        let before = "import subprocess as sp\nfrom os import system\nx = 1\n";
        let after =
            "import subprocess as sp\nfrom os import system\nsp.run(['ls'])\nsystem('ls')\n";
        assert_eq!(
            scan_added(before, after),
            vec![
                (3, "subprocess.run (process execution)".to_string()),
                (4, "os.system (process execution)".to_string()),
            ]
        );
    }

    #[test]
    fn added_imports_of_dangerous_modules_are_flagged() {
        assert_eq!(whats("import pty\n"), vec!["pty (process execution)"]);
        assert_eq!(
            whats("from urllib.request import urlopen\n"),
            vec!["urllib.request.urlopen (network client)"]
        );
        assert_eq!(
            whats("from os import *\n"),
            vec!["from os import * (process execution)"]
        );
        assert_eq!(
            whats("import json\nfrom os import path\nfrom . import subprocess\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn changed_argument_of_a_kept_dangerous_call_is_flagged() {
        let before = "import subprocess\nsubprocess.run(\n    ['ls'],\n)\n";
        let after = "import subprocess\nsubprocess.run(\n    ['rm', '-rf', '/'],\n)\n";
        assert_eq!(
            scan_added(before, after),
            vec![(3, "subprocess.run (process execution)".to_string())]
        );
    }

    #[test]
    fn added_requests_get_is_a_network_client() {
        assert_eq!(
            whats("r = requests.get('http://example.com')\n"),
            vec!["requests.get (network client)"]
        );
    }

    #[test]
    fn added_b64decode_is_a_decoded_payload() {
        assert_eq!(
            whats("import base64\ncode = base64.b64decode(blob)\n"),
            vec!["base64.b64decode (decoded payload)"]
        );
        assert_eq!(
            whats("d = codecs.decode(s, 'rot_13')\n"),
            vec!["codecs.decode with 'rot_13' (decoded payload)"]
        );
        assert_eq!(
            whats("d = codecs.decode(s, 'utf-8')\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn open_of_an_absolute_path_is_a_write_outside_the_project() {
        assert_eq!(
            whats("open('/etc/passwd', 'w').write(x)\n"),
            vec!["open('/etc/passwd') (write outside the project)"]
        );
        assert_eq!(
            whats("os.remove('~/.bashrc')\n"),
            vec!["os.remove('~/.bashrc') (write outside the project)"]
        );
        assert_eq!(whats("open('data/out.txt', 'w')\n"), Vec::<String>::new());
    }

    #[test]
    fn importlib_and_the_interpreters_internals_are_flagged_however_used() {
        // See: issue 12, each of these ran a payload past the first scan.
        for (code, want) in [
            (
                "m = importlib.import_module('subprocess')\n",
                "importlib.import_module (dynamic code)",
            ),
            (
                "print.__self__.exec(code)\n",
                "the attribute __self__ (dynamic code)",
            ),
            (
                "sys.modules['os'].system('id')\n",
                "sys.modules (dynamic code)",
            ),
            (
                "ctypes.CDLL(None).system(b'id')\n",
                "ctypes.CDLL (native code)",
            ),
            (
                "f = getattr(obj, name)\n",
                "getattr with a name computed at run time (dynamic code)",
            ),
            (
                "open('../../somewhere/else', 'a')\n",
                "open('../../somewhere/else') (write outside the project)",
            ),
            (
                "open(os.path.join('/tmp', name), 'w')\n",
                "open of a path computed at run time (write outside the project)",
            ),
            (
                "os.chdir('/')\n",
                "os.chdir('/') (write outside the project)",
            ),
            (
                "if os.fork() == 0:\n    os.setsid()\n",
                "os.fork (process execution)",
            ),
        ] {
            let found = whats(code);
            assert!(found.iter().any(|f| f == want), "{code}: {found:?}");
        }
        // What a fix may do: open a literal path inside the project.
        assert_eq!(whats("open('data/input.csv')\n"), Vec::<String>::new());
    }

    #[test]
    fn environment_tampering_is_flagged() {
        assert_eq!(
            whats("os.environ['PATH'] = '/tmp'\n"),
            vec!["assignment to os.environ (environment tampering)"]
        );
        assert_eq!(
            whats("setattr(os, 'system', f)\n"),
            vec!["setattr(os, ...) (environment tampering)"]
        );
        assert_eq!(whats("v = os.environ.get('HOME')\n"), Vec::<String>::new());
    }

    #[test]
    fn getattr_with_a_dangerous_literal_is_flagged() {
        assert_eq!(
            whats("f = getattr(os, 'system')\n"),
            vec!["getattr(os, 'system') (process execution)"]
        );
    }

    #[test]
    fn dangerous_call_in_unparsable_code_is_still_found() {
        let found = whats("def f(:\n    os.system('ls')\n");
        assert!(
            found.contains(&"os.system (process execution)".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn nothing_added_means_nothing_found() {
        assert_eq!(scan_added("eval(x)\n", "eval(x)\n"), vec![]);
        assert_eq!(scan_added("eval(x)\ny = 1\n", "eval(x)\n"), vec![]);
    }
}
