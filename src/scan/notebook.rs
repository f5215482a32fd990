//! Jupyter notebooks (nbformat 4): the code cells' source, in order, one cell at a time.
//!
//! `source` is either one string or a list of lines (nbformat allows both). Cell magics that
//! switch language (`%%bash`, `%%writefile`, …) make the cell not Python; timing and capture
//! magics leave Python beneath them. Spec: <https://nbformat.readthedocs.io/en/latest/format_description.html>.

use serde::Deserialize;

#[derive(Deserialize)]
struct Notebook {
    cells: Vec<Cell>,
}

#[derive(Deserialize)]
struct Cell {
    cell_type: String,
    #[serde(default)]
    source: Source,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Source {
    Text(String),
    Lines(Vec<String>),
}

impl Default for Source {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

/// One code cell: its 1-based number among all cells, and its Python text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CodeCell {
    pub(crate) number: u32,
    pub(crate) source: String,
}

/// Cell magics whose body is still Python.
const PYTHON_CELL_MAGICS: &[&str] = &["time", "timeit", "capture", "prun", "debug"];

/// The code cells of a notebook, or why it is not one.
pub(crate) fn code_cells(text: &str) -> Result<Vec<CodeCell>, String> {
    let notebook: Notebook =
        serde_json::from_str(text).map_err(|error| format!("not a notebook: {error}"))?;
    let cells = notebook
        .cells
        .into_iter()
        .enumerate()
        .filter(|(_, cell)| cell.cell_type == "code")
        .filter_map(|(index, cell)| {
            let source = match cell.source {
                Source::Text(text) => text,
                Source::Lines(lines) => lines.concat(),
            };
            let source = strip_cell_magic(source)?;
            Some(CodeCell {
                number: u32::try_from(index + 1).unwrap_or(u32::MAX),
                source,
            })
        })
        .collect();
    Ok(cells)
}

/// The cell's Python, with a leading Python-preserving cell magic blanked (line numbers kept);
/// `None` when a cell magic makes the cell another language.
fn strip_cell_magic(source: String) -> Option<String> {
    let Some(magic) = source.trim_start().strip_prefix("%%") else {
        return Some(source);
    };
    let name = magic.split_whitespace().next().unwrap_or_default();
    if !PYTHON_CELL_MAGICS.contains(&name) {
        return None;
    }
    let body = source.split_once('\n').map_or("", |(_, body)| body);
    Some(format!("\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_and_list_sources() {
        let text = r#"{"cells": [
            {"cell_type": "markdown", "source": "import nope"},
            {"cell_type": "code", "source": "import a\n"},
            {"cell_type": "code", "source": ["import b\n", "import c"]},
            {"cell_type": "code", "source": "%%bash\npip install nope"},
            {"cell_type": "code", "source": "%%time\nimport d"}
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        let cells = code_cells(text).unwrap();
        let sources: Vec<(u32, &str)> = cells
            .iter()
            .map(|c| (c.number, c.source.as_str()))
            .collect();
        assert_eq!(
            sources,
            [
                (2, "import a\n"),
                (3, "import b\nimport c"),
                (5, "\nimport d")
            ]
        );
    }

    #[test]
    fn refuses_non_notebooks() {
        assert!(
            code_cells("{not json")
                .unwrap_err()
                .starts_with("not a notebook")
        );
        assert!(code_cells("[1, 2]").is_err());
    }
}
