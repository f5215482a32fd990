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

/// Values that used to pass `lock` and fail late (or not at all) are refused when the
/// manifest is read, every one located, and a 2 MB name is quoted by its first characters.
#[test]
fn values_that_would_fail_late_are_refused_by_every_command() {
    let context = TestContext::new();
    context.write("train.py", "print('hi')\n");
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"{}\"\n\n[train]\ncommand = [\"python3\", \"train.py\\u0000x\"]\nworkdir = \"../../../../../etc\"\n\n[[datasets]]\nsource = \".\"\ntarget = \"/../../etc\"\n",
            "n".repeat(2_000_000)
        ),
    );
    for command in ["scan", "lock", "build"] {
        let rendered = context.run(&[command]);
        assert!(
            rendered.len() < 2_000,
            "{command}: {} bytes",
            rendered.len()
        );
        insta::allow_duplicates! { insta::assert_snapshot!(rendered, @r#"
        exit: 1
        --- stdout
        --- stderr
        error: `mlpack.toml` has 4 problems
          mlpack.toml:2:8: `project.name` is longer than 32768 bytes: `nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn… (2000000 bytes)`
          mlpack.toml:5:23: `train.command[1]` contains a NUL byte: `train.py\0x`
            hint: remove the `\u0000`
          mlpack.toml:6:11: `workdir = "../../../../../etc"` is not an absolute path
            hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
          mlpack.toml:10:10: dataset `target = "/../../etc"` has a `..` component
            hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
        "#) };
    }
}
