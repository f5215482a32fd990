//! Distributions a library imports on the user's behalf when the code uses a particular API,
//! with no import of them in the project: transformers' `Trainer` imports accelerate,
//! `from_pretrained(..., load_in_8bit=True)` imports bitsandbytes, the slow (sentencepiece)
//! tokenizers import sentencepiece, pandas' parquet functions import pyarrow. Without them the
//! code fails at run time exactly as a missing import would, so each use counts as an import
//! of the module, with the same guard and laziness as the code that uses it.
//!
//! Only documented hard requirements of an API are listed (the library raises `ImportError`
//! naming the distribution), never packages that merely speed something up.

use ruff_python_ast::{self as ast, Expr};

/// A use of an API and the module it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HiddenNeed {
    pub(crate) module: &'static str,
    /// The use as written, for `--why` (`from transformers import Trainer`).
    pub(crate) statement: String,
}

/// Names imported from a library that need another module.
const IMPORTED_NAMES: &[(&str, &[&str], &str)] = &[
    // transformers' Trainer requires accelerate when PyTorch is the backend (transformers
    // >= 4.30 raises ImportError: "Using the `Trainer` with `PyTorch` requires `accelerate`").
    (
        "transformers",
        &[
            "Trainer",
            "Seq2SeqTrainer",
            "TrainingArguments",
            "Seq2SeqTrainingArguments",
        ],
        "accelerate",
    ),
    ("transformers", &["BitsAndBytesConfig"], "bitsandbytes"),
    // The slow tokenizers of sentencepiece models.
    (
        "transformers",
        &[
            "AlbertTokenizer",
            "BarthezTokenizer",
            "BigBirdTokenizer",
            "CamembertTokenizer",
            "DebertaV2Tokenizer",
            "GemmaTokenizer",
            "LlamaTokenizer",
            "M2M100Tokenizer",
            "MBart50Tokenizer",
            "MBartTokenizer",
            "MarianTokenizer",
            "PegasusTokenizer",
            "ReformerTokenizer",
            "T5Tokenizer",
            "XLMRobertaTokenizer",
            "XLNetTokenizer",
        ],
        "sentencepiece",
    ),
];

/// Keyword arguments of a method that need another module.
const KEYWORDS: &[(&str, &str, &str)] = &[
    ("from_pretrained", "load_in_8bit", "bitsandbytes"),
    ("from_pretrained", "load_in_4bit", "bitsandbytes"),
    ("from_pretrained", "device_map", "accelerate"),
];

/// pandas' readers (called on the module, as `pd.read_parquet`: polars' own `read_parquet`
/// needs no pyarrow) and writers (`DataFrame` methods; polars names its writers `write_*`)
/// that need another module.
const PANDAS_READERS: &[(&str, &str)] = &[
    ("read_parquet", "pyarrow"),
    ("read_feather", "pyarrow"),
    ("read_excel", "openpyxl"),
];
const DATAFRAME_WRITERS: &[(&str, &str)] = &[
    ("to_parquet", "pyarrow"),
    ("to_feather", "pyarrow"),
    ("to_excel", "openpyxl"),
];
/// The names pandas is imported as.
const PANDAS_NAMES: &[&str] = &["pd", "pandas"];

/// What `from module import name` needs besides `module`.
pub(crate) fn of_imported_name(module: &str, name: &str) -> Option<HiddenNeed> {
    let top_level = module.split('.').next().unwrap_or(module);
    IMPORTED_NAMES
        .iter()
        .find(|(library, names, _)| *library == top_level && names.contains(&name))
        .map(|(_, _, needed)| HiddenNeed {
            module: needed,
            statement: format!("from {module} import {name} (needs {needed})"),
        })
}

/// What a method call needs: `LlamaForCausalLM.from_pretrained(..., load_in_8bit=True)`
/// needs bitsandbytes, `df.to_parquet(path)` pyarrow. A keyword set to a literal `False` or `None`
/// does not select the feature.
pub(crate) fn of_call(call: &ast::ExprCall) -> Vec<HiddenNeed> {
    let Expr::Attribute(attribute) = &*call.func else {
        return Vec::new();
    };
    let function = attribute.attr.id.as_str();
    let on_pandas =
        matches!(&*attribute.value, Expr::Name(name) if PANDAS_NAMES.contains(&name.id.as_str()));
    let by_keyword = call.arguments.keywords.iter().filter_map(|keyword| {
        let argument = keyword.arg.as_ref()?.id.as_str();
        let (_, _, needed) = KEYWORDS
            .iter()
            .find(|(method, name, _)| *method == function && *name == argument)?;
        let disabled = matches!(
            keyword.value,
            Expr::BooleanLiteral(ast::ExprBooleanLiteral { value: false, .. })
                | Expr::NoneLiteral(_)
        );
        (!disabled).then(|| HiddenNeed {
            module: needed,
            statement: format!("{function}({argument}=…) (needs {needed})"),
        })
    });
    let readers = PANDAS_READERS.iter().filter(|_| on_pandas);
    let by_function = readers
        .chain(DATAFRAME_WRITERS)
        .filter(|(name, _)| *name == function)
        .map(|(_, needed)| HiddenNeed {
            module: needed,
            statement: format!("{function}(…) (needs {needed})"),
        });
    by_keyword.chain(by_function).collect()
}

#[cfg(test)]
mod tests {
    use super::super::python::find_imports;

    fn modules(source: &str) -> Vec<String> {
        let mut modules: Vec<String> = find_imports(source, false)
            .imports
            .into_iter()
            .map(|import| import.module)
            .collect();
        modules.sort();
        modules
    }

    #[test]
    fn pandas_readers_count_only_on_pandas_and_writers_on_any_frame() {
        assert_eq!(
            modules("import polars as pl\npl.read_parquet('x')\n"),
            ["polars"]
        );
        assert_eq!(
            modules("import pandas as pd\npd.read_excel('x.xlsx')\n"),
            ["openpyxl", "pandas"]
        );
        assert_eq!(modules("frame.to_feather('x')\n"), ["pyarrow"]);
    }

    #[test]
    fn only_the_listed_names_of_the_library_count() {
        assert_eq!(
            modules("from transformers.trainer import Trainer\nfrom mylib import Trainer\n"),
            [
                "accelerate",
                "mylib.Trainer",
                "transformers.trainer.Trainer"
            ]
        );
        assert_eq!(
            modules("model = Model.from_pretrained('x', device_map=None)\n"),
            Vec::<String>::new()
        );
    }
}
