//! Finding imports in Python source with a real parser (ruff's), not regexes.
//!
//! Covers `import a.b as c`, `from a.b import c`, imports nested in functions and classes,
//! `__import__("x")` and `importlib.import_module("x")` with literal arguments, and, in
//! notebooks, `%pip install` / `!pip install` lines as direct evidence of distributions.
//! Each import carries the guard that makes it optional, if any (see [`Guard`]).

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, ExceptHandler, Expr, IpyEscapeKind, PySourceType, Stmt};
use ruff_text_size::{Ranged, TextSize};

use super::{hidden, pip_command};

/// Why an import may be absent without the program failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    /// Inside `try:` (or its handler) where `ImportError`/`ModuleNotFoundError` is caught.
    TryExcept,
    /// Under `if TYPE_CHECKING:`, which never runs.
    TypeChecking,
    /// Under an `if` on `sys.version_info`, `sys.platform`, `os.name` or `platform.*`.
    VersionOrPlatform,
    /// Under an `if` that runs only in a hosted notebook (`if IN_COLAB:`, `if "google.colab"
    /// in sys.modules:`, `if os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):`).
    NotebookHost,
    /// In a file that only tests or builds the project (`tests/`, `conftest.py`, `setup.py`):
    /// the project's code runs without it.
    TestOrBuild,
    /// An import of a distribution the project declares optional: commented out in its
    /// requirements file, or only in an extra of its `pyproject.toml`.
    DeclaredOptional,
    /// A lazy import of a distribution the project does not declare, in a file whose other
    /// lazy imports it declares optional (the rest of yolov5's export formats).
    BesideDeclaredOptional,
}

impl Guard {
    pub fn describe(self) -> &'static str {
        match self {
            Self::TryExcept => "inside try/except ImportError",
            Self::TypeChecking => "under if TYPE_CHECKING",
            Self::VersionOrPlatform => "under a version/platform check",
            Self::NotebookHost => "only on Colab or Kaggle",
            Self::TestOrBuild => "in a test or build file",
            Self::DeclaredOptional => "declared optional by the project",
            Self::BesideDeclaredOptional => "lazy, beside imports the project declares optional",
        }
    }
}

/// Why a required import may not run in every training run: it only runs when its function
/// is called or its branch taken (an ONNX export helper, `if args.wandb:`). Such imports stay
/// required, the safe default; the report says so, so that a user can see why a heavy
/// package is in the image and leave it out with `[python] exclude-imports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lazy {
    /// In a function's body.
    Function,
    /// In the body of an `if` (other than `if __name__ == "__main__":`), `for`, `while` or
    /// `match`.
    Branch,
}

impl Lazy {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Function => "lazy: inside a function",
            Self::Branch => "lazy: inside a branch",
        }
    }
}

/// One absolute import: the dotted module and, for `from m import n`, the candidate `m.n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundImport {
    /// The most specific dotted name the import may refer to (`google.cloud.storage` for
    /// `from google.cloud import storage`, since `storage` may be a submodule).
    pub(crate) module: String,
    /// The import as written, for messages (`from sklearn.datasets import load_iris`).
    pub(crate) statement: String,
    pub(crate) offset: TextSize,
    pub(crate) guard: Option<Guard>,
    pub(crate) lazy: Option<Lazy>,
}

/// What a `%pip install` / `!pip install` line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipInstall {
    pub(crate) argument: PipArgument,
    pub(crate) offset: TextSize,
    pub(crate) guard: Option<Guard>,
    pub(crate) lazy: Option<Lazy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PipArgument {
    /// A requirement as written.
    Requirement(String),
    /// A requirements file (`-r FILE`), as written.
    File(String),
    /// A word IPython fills in at run time (`$pkg`, `{name}`).
    Interpolated(String),
}

/// What one piece of source yields.
#[derive(Debug, Default)]
pub(crate) struct SourceImports {
    pub(crate) imports: Vec<FoundImport>,
    pub(crate) pip_installs: Vec<PipInstall>,
    /// The first syntax error, as (offset, message); imports from the recovered tree are kept.
    pub(crate) syntax_error: Option<(TextSize, String)>,
}

/// Parse `source` (plain Python, or one notebook cell with IPython escapes) and collect imports.
pub(crate) fn find_imports(source: &str, notebook_cell: bool) -> SourceImports {
    let source_type = if notebook_cell {
        PySourceType::Ipynb
    } else {
        PySourceType::Python
    };
    let parsed = ruff_python_parser::parse_unchecked_source(source, source_type);
    let mut collector = ImportCollector::default();
    collector.visit_body(parsed.suite());
    SourceImports {
        imports: collector.imports,
        pip_installs: collector.pip_installs,
        syntax_error: parsed
            .errors()
            .first()
            .map(|error| (error.location.start(), error.error.to_string())),
    }
}

#[derive(Default)]
struct ImportCollector {
    imports: Vec<FoundImport>,
    pip_installs: Vec<PipInstall>,
    /// The outermost guard around the statement being visited.
    guard: Option<Guard>,
    /// The outermost function or branch around the statement being visited.
    lazy: Option<Lazy>,
    /// `from importlib import import_module` was seen, so a bare `import_module("x")` is it
    /// (and not, say, sympy's own helper of that name).
    imports_import_module: bool,
}

impl ImportCollector {
    fn push(&mut self, module: String, statement: String, offset: TextSize) {
        self.imports.push(FoundImport {
            module,
            statement,
            offset,
            guard: self.guard,
            lazy: self.lazy,
        });
    }

    fn guarded(&mut self, guard: Option<Guard>, body: &[Stmt]) {
        let outer = self.guard;
        self.guard = outer.or(guard);
        self.visit_body(body);
        self.guard = outer;
    }

    /// Visits what runs only when a function is called or a branch is taken.
    fn lazily(&mut self, lazy: Option<Lazy>, visit: impl FnOnce(&mut Self)) {
        let outer = self.lazy;
        self.lazy = outer.or(lazy);
        visit(self);
        self.lazy = outer;
    }

    fn visit_try(&mut self, stmt: &ast::StmtTry) {
        let catches_import_error = stmt.handlers.iter().any(|handler| {
            let ExceptHandler::ExceptHandler(handler) = handler;
            handler.type_.as_deref().is_none_or(catches_import_error)
        });
        let guard = catches_import_error.then_some(Guard::TryExcept);
        self.guarded(guard, &stmt.body);
        for handler in &stmt.handlers {
            let ExceptHandler::ExceptHandler(handler) = handler;
            if let Some(type_) = &handler.type_ {
                self.visit_expr(type_);
            }
            // A fallback import in the handler only runs when the first one failed.
            self.guarded(guard, &handler.body);
        }
        self.visit_body(&stmt.orelse);
        self.visit_body(&stmt.finalbody);
    }

    fn visit_if(&mut self, stmt: &ast::StmtIf) {
        self.visit_expr(&stmt.test);
        let lazy = (!is_main_check(&stmt.test)).then_some(Lazy::Branch);
        self.lazily(lazy, |this| this.visit_if_clauses(stmt));
    }

    fn visit_if_clauses(&mut self, stmt: &ast::StmtIf) {
        if mentions(&stmt.test, &["TYPE_CHECKING"]) {
            self.guarded(Some(Guard::TypeChecking), &stmt.body);
            for clause in &stmt.elif_else_clauses {
                self.visit_elif_else_clause(clause);
            }
            return;
        }
        if let Some(on_host) = notebook_host_check(&stmt.test) {
            // `if IN_COLAB:` guards its body; `if not IN_COLAB:` guards the other clauses.
            let host = Some(Guard::NotebookHost);
            self.guarded(host.filter(|_| on_host), &stmt.body);
            for clause in &stmt.elif_else_clauses {
                if let Some(test) = &clause.test {
                    self.visit_expr(test);
                }
                self.guarded(host.filter(|_| !on_host), &clause.body);
            }
            return;
        }
        let tests = std::iter::once(&*stmt.test).chain(
            stmt.elif_else_clauses
                .iter()
                .filter_map(|c| c.test.as_ref()),
        );
        let is_environment_check = tests.into_iter().any(is_version_or_platform_check);
        let guard = is_environment_check.then_some(Guard::VersionOrPlatform);
        self.guarded(guard, &stmt.body);
        for clause in &stmt.elif_else_clauses {
            if let Some(test) = &clause.test {
                self.visit_expr(test);
            }
            self.guarded(guard, &clause.body);
        }
    }

    fn visit_escape_command(&mut self, kind: IpyEscapeKind, value: &str, offset: TextSize) {
        if kind == IpyEscapeKind::Magic
            && let Some(setting) = value.strip_prefix("env ")
            && let Some((name, backend)) = setting.trim().split_once(['=', ' '])
        {
            self.keras_backend(name, backend.trim(), offset);
        }
        if matches!(
            kind,
            IpyEscapeKind::Shell | IpyEscapeKind::Magic | IpyEscapeKind::ShCap
        ) {
            let line = pip_command::parse(value);
            let arguments = (line.requirements.into_iter().map(PipArgument::Requirement))
                .chain(line.requirement_files.into_iter().map(PipArgument::File))
                .chain(line.interpolated.into_iter().map(PipArgument::Interpolated));
            for argument in arguments {
                self.pip_installs.push(PipInstall {
                    argument,
                    offset,
                    guard: self.guard,
                    lazy: self.lazy,
                });
            }
        }
    }
}

impl ImportCollector {
    /// Keras 3 imports the backend a notebook or script names before `import keras`
    /// (`os.environ["KERAS_BACKEND"] = "jax"`, `%env KERAS_BACKEND=jax`): that backend is
    /// needed as surely as an import of it.
    fn keras_backend(&mut self, variable: &str, backend: &str, offset: TextSize) {
        let backend = backend.trim_matches(['"', '\'']);
        if variable == "KERAS_BACKEND" && KERAS_BACKENDS.contains(&backend) {
            self.push(
                backend.to_string(),
                format!("KERAS_BACKEND={backend}"),
                offset,
            );
        }
    }
}

/// The backends Keras 3 selects by name, each also its module's name.
const KERAS_BACKENDS: &[&str] = &["jax", "tensorflow", "torch"];

impl<'a> Visitor<'a> for ImportCollector {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let module = alias.name.id.to_string();
                    self.push(module.clone(), format!("import {module}"), alias.start());
                }
            }
            Stmt::ImportFrom(import) => {
                // Relative imports name the project's own modules, never a distribution.
                if import.level > 0 {
                    return;
                }
                let Some(module) = &import.module else { return };
                if module.id.as_str() == "importlib"
                    && import.names.iter().any(|alias| {
                        alias.name.id.as_str() == "import_module" && alias.asname.is_none()
                    })
                {
                    self.imports_import_module = true;
                }
                for alias in &import.names {
                    let name = if alias.name.id.as_str() == "*" {
                        module.id.to_string()
                    } else {
                        format!("{}.{}", module.id, alias.name.id)
                    };
                    let statement = format!("from {} import {}", module.id, alias.name.id);
                    self.push(name, statement, import.start());
                    if let Some(need) = hidden::of_imported_name(&module.id, &alias.name.id) {
                        self.push(need.module.to_string(), need.statement, import.start());
                    }
                }
            }
            Stmt::Assign(assign) => {
                // `os.environ["KERAS_BACKEND"] = "jax"`
                if let [Expr::Subscript(target)] = assign.targets.as_slice()
                    && is_environ(&target.value)
                    && let (Expr::StringLiteral(name), Expr::StringLiteral(value)) =
                        (&*target.slice, &*assign.value)
                {
                    self.keras_backend(name.value.to_str(), value.value.to_str(), assign.start());
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Try(stmt) => self.visit_try(stmt),
            Stmt::If(stmt) => self.visit_if(stmt),
            Stmt::FunctionDef(_) => {
                self.lazily(Some(Lazy::Function), |this| visitor::walk_stmt(this, stmt));
            }
            Stmt::For(_) | Stmt::While(_) | Stmt::Match(_) => {
                self.lazily(Some(Lazy::Branch), |this| visitor::walk_stmt(this, stmt));
            }
            Stmt::IpyEscapeCommand(command) => {
                self.visit_escape_command(command.kind, &command.value, command.start());
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(call) => {
                // `os.environ.setdefault("KERAS_BACKEND", "jax")`
                if let Expr::Attribute(method) = &*call.func
                    && method.attr.id.as_str() == "setdefault"
                    && is_environ(&method.value)
                    && let [Expr::StringLiteral(name), Expr::StringLiteral(value)] =
                        &*call.arguments.args
                {
                    self.keras_backend(name.value.to_str(), value.value.to_str(), call.start());
                }
                for need in hidden::of_call(call) {
                    self.push(need.module.to_string(), need.statement, call.start());
                }
                if let Some((function, module)) = dynamic_import(call, self.imports_import_module) {
                    self.push(
                        module.clone(),
                        format!("{function}(\"{module}\")"),
                        call.start(),
                    );
                }
            }
            Expr::IpyEscapeCommand(command) => {
                self.visit_escape_command(command.kind, &command.value, command.start());
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// `__import__("x")`, `importlib.import_module("x")`, or `import_module("x")` when imported
/// from `importlib`; literal names only. The function as written and the module.
fn dynamic_import(
    call: &ast::ExprCall,
    bare_import_module: bool,
) -> Option<(&'static str, String)> {
    let function = match &*call.func {
        Expr::Name(name) if name.id.as_str() == "__import__" => "__import__",
        Expr::Name(name) if bare_import_module && name.id.as_str() == "import_module" => {
            "import_module"
        }
        Expr::Attribute(attribute)
            if attribute.attr.id.as_str() == "import_module"
                && matches!(&*attribute.value, Expr::Name(name) if name.id.as_str() == "importlib") =>
        {
            "importlib.import_module"
        }
        _ => return None,
    };
    let Some(Expr::StringLiteral(literal)) = call.arguments.args.first() else {
        return None;
    };
    let module = literal.value.to_str();
    let valid = !module.is_empty() && module.split('.').all(is_identifier);
    valid.then(|| (function, module.to_string()))
}

/// `os.environ`, or `environ` imported from `os`.
fn is_environ(expr: &Expr) -> bool {
    match expr {
        Expr::Attribute(attribute) => {
            attribute.attr.id.as_str() == "environ"
                && matches!(&*attribute.value, Expr::Name(name) if name.id.as_str() == "os")
        }
        Expr::Name(name) => name.id.as_str() == "environ",
        _ => false,
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether an `except` clause's type catches a failed import.
fn catches_import_error(type_: &Expr) -> bool {
    match type_ {
        Expr::Tuple(tuple) => tuple.elts.iter().any(catches_import_error),
        _ => mentions(
            type_,
            &[
                "ImportError",
                "ModuleNotFoundError",
                "Exception",
                "BaseException",
            ],
        ),
    }
}

fn is_version_or_platform_check(test: &Expr) -> bool {
    mentions(
        test,
        &[
            "version_info",
            "platform",
            "hexversion",
            "implementation",
            "PY2",
            "PY3",
        ],
    ) || mentions_attribute(test, "os", "name")
}

/// `if __name__ == "__main__":`, the body a script always runs.
fn is_main_check(test: &Expr) -> bool {
    let Expr::Compare(compare) = test else {
        return false;
    };
    let sides = std::iter::once(&*compare.left).chain(compare.comparators.iter());
    let (mut name, mut main) = (false, false);
    for side in sides {
        match side {
            Expr::Name(n) => name |= n.id.as_str() == "__name__",
            Expr::StringLiteral(literal) => main |= literal.value.to_str() == "__main__",
            _ => {}
        }
    }
    name && main
}

/// Whether an `if` test asks if the code runs in a hosted notebook: `Some(true)` when its
/// body runs there (`if IN_COLAB:`), `Some(false)` when its body runs elsewhere (`if not
/// IN_COLAB:`, `if "google.colab" not in sys.modules:`).
fn notebook_host_check(test: &Expr) -> Option<bool> {
    match test {
        Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => {
            notebook_host_check(&not.operand).map(|on_host| !on_host)
        }
        Expr::Compare(compare) if mentions_notebook_host(test) => {
            let negated = compare
                .ops
                .iter()
                .any(|op| matches!(op, ast::CmpOp::NotIn | ast::CmpOp::NotEq));
            Some(!negated)
        }
        _ => mentions_notebook_host(test).then_some(true),
    }
}

/// A name like `IN_COLAB` or `on_kaggle`, or a string like `"google.colab"` or
/// `"KAGGLE_KERNEL_RUN_TYPE"`.
fn mentions_notebook_host(expr: &Expr) -> bool {
    struct HostFinder(bool);
    impl<'a> Visitor<'a> for HostFinder {
        fn visit_expr(&mut self, expr: &'a Expr) {
            let text = match expr {
                Expr::Name(name) => name.id.as_str(),
                Expr::Attribute(attribute) => attribute.attr.id.as_str(),
                Expr::StringLiteral(literal) => literal.value.to_str(),
                _ => "",
            };
            let text = text.to_ascii_lowercase();
            self.0 |= text.contains("colab") || text.contains("kaggle");
            visitor::walk_expr(self, expr);
        }
    }
    let mut finder = HostFinder(false);
    finder.visit_expr(expr);
    finder.0
}

/// Whether `expr` contains a name, or an attribute whose last part is, one of `names`.
fn mentions(expr: &Expr, names: &[&str]) -> bool {
    let mut finder = NameFinder {
        found: false,
        matches: |name: &str, _: Option<&str>| names.contains(&name),
    };
    finder.visit_expr(expr);
    finder.found
}

/// Whether `expr` contains `base.attribute`.
fn mentions_attribute(expr: &Expr, base: &str, attribute: &str) -> bool {
    let mut finder = NameFinder {
        found: false,
        matches: |name: &str, parent: Option<&str>| name == attribute && parent == Some(base),
    };
    finder.visit_expr(expr);
    finder.found
}

struct NameFinder<F> {
    found: bool,
    matches: F,
}

impl<'a, F: Fn(&str, Option<&str>) -> bool> Visitor<'a> for NameFinder<F> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) => self.found |= (self.matches)(name.id.as_str(), None),
            Expr::Attribute(attribute) => {
                let parent = match &*attribute.value {
                    Expr::Name(name) => Some(name.id.as_str()),
                    _ => None,
                };
                self.found |= (self.matches)(attribute.attr.id.as_str(), parent);
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests;
