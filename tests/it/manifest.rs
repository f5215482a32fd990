//! `mlpack.toml` errors as a user sees them.

use crate::common::TestContext;

#[test]
fn all_problems_are_reported_at_once() {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        "[project]\nname = \"demo\"\n\n[python]\nrequirements = [\"torch>=2.0\", \"not a requirement!\"]\n\n[[datasets]]\nsource = \"does-not-exist\"\n\n[trian]\ncommand = \"python3 train.py\"\n",
    );
    insta::assert_snapshot!(context.run(&["scan"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `mlpack.toml` has 3 problems
      mlpack.toml:5:31: `not a requirement!` is not a valid requirement: Expected one of `@`, `(`, `<`, `=`, `>`, `~`, `!`, `;`, found `a`
        hint: write a PEP 508 requirement, like `scikit-learn>=1.3` or `torch==2.5.*`
      mlpack.toml:8:10: dataset `does-not-exist` does not exist (looked for `[TEMP]/project/does-not-exist`)
        hint: paths in mlpack.toml are relative to the project directory
      mlpack.toml:10:2: unknown key `trian`
        hint: did you mean `train`?
    ");
    context.write("mlpack.toml", "[python]\nrequirements = [\"torch>=2.0\", \"not a requirement!\"]\n\n[[datasets]]\nsource = \"does-not-exist\"\n");
    insta::assert_snapshot!(context.run(&["scan"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `mlpack.toml` has 2 problems
      mlpack.toml:2:31: `not a requirement!` is not a valid requirement: Expected one of `@`, `(`, `<`, `=`, `>`, `~`, `!`, `;`, found `a`
        hint: write a PEP 508 requirement, like `scikit-learn>=1.3` or `torch==2.5.*`
      mlpack.toml:5:10: dataset `does-not-exist` does not exist (looked for `[TEMP]/project/does-not-exist`)
        hint: paths in mlpack.toml are relative to the project directory
    ");
}
