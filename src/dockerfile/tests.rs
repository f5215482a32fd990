use super::*;

const ML: &str = r#"# syntax=docker/dockerfile:1
ARG PY=3.11
FROM python:${PY}-slim AS Build
ENV A=1 B="two words"
ENV LEGACY some value
RUN apt-get update && \
    # a comment inside
    apt-get install -y git
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
COPY --chown=1000:1000 requirements.txt app/ /app/
RUN <<EOF
echo hi
EOF
COPY <<CONF /etc/app.conf
x=1
CONF

FROM scratch
COPY --from=build /app /app
CMD ["python", "app.py"]
ENTRYPOINT echo hi
HEALTHCHECK --interval=5s CMD curl -f http://localhost/
EXPOSE 80 8080/udp
LABEL a=b "c d"=e
"#;

#[test]
fn reads_stages_and_instructions_with_lines() {
    let file = Dockerfile::parse("Dockerfile", ML).unwrap();
    assert_eq!(file.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(file.global_args[0].value[0].name, "PY");
    assert_eq!(file.stages.len(), 2);
    let build = &file.stages[0];
    assert_eq!(build.name.as_deref(), Some("build"));
    assert_eq!(build.base.value, "python:${PY}-slim");
    assert_eq!(build.base.line, 3);
    assert_eq!(file.stage_index("BUILD"), Some(0));
    assert_eq!(file.stage_index("1"), Some(1));
    let values: Vec<&Instruction> = build.instructions.iter().map(|i| &i.value).collect();
    let Instruction::Env(pairs) = values[0] else {
        panic!()
    };
    assert_eq!(pairs[1], ("B".to_string(), "\"two words\"".to_string()));
    let Instruction::Env(pairs) = values[1] else {
        panic!()
    };
    assert_eq!(pairs[0], ("LEGACY".to_string(), "some value".to_string()));
    let Instruction::Run(run) = values[2] else {
        panic!()
    };
    assert_eq!(
        run.command,
        CommandLine::Shell("apt-get update &&     apt-get install -y git".to_string())
    );
    assert_eq!(build.instructions[2].line, 6);
    let Instruction::Run(run) = values[3] else {
        panic!()
    };
    assert_eq!(run.flags[0].name, "mount");
    let Instruction::Copy(copy) = values[4] else {
        panic!()
    };
    assert_eq!(copy.dest, "/app/");
    assert_eq!(copy.sources.len(), 2);
    let Instruction::Run(run) = values[5] else {
        panic!()
    };
    assert_eq!(run.heredoc.as_deref(), Some("echo hi\n"));
    let Instruction::Copy(copy) = values[6] else {
        panic!()
    };
    assert_eq!(
        copy.sources[0],
        CopySource::Heredoc {
            name: "CONF".to_string(),
            content: "x=1\n".to_string(),
            expand: true
        }
    );
    let last: Vec<&Instruction> = file.stages[1]
        .instructions
        .iter()
        .map(|i| &i.value)
        .collect();
    assert!(
        matches!(last[1], Instruction::Cmd(CommandLine::Exec(args)) if args == &["python", "app.py"])
    );
    assert!(
        matches!(last[2], Instruction::Entrypoint(CommandLine::Shell(text)) if text == "echo hi")
    );
    assert!(matches!(last[3], Instruction::Healthcheck(check) if check.test.is_some()));
    let Instruction::Label(pairs) = last[5] else {
        panic!()
    };
    assert_eq!(pairs[1].0, "\"c d\"");
    assert_eq!(
        file.stages[1].instructions[0].source,
        "COPY --from=build /app /app"
    );
}

#[test]
fn errors_name_the_line() {
    let error =
        Dockerfile::parse("Dockerfile", "FROM scratch\nRUN true\nFROBNICATE x\n").unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.to_string().starts_with("Dockerfile:3: "), "{error}");
    let error = Dockerfile::parse("Dockerfile", "RUN true\n").unwrap_err();
    assert!(error.to_string().contains("FROM"), "{error}");
    let error = Dockerfile::parse("Dockerfile", "FROM scratch\nENV =x\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "Dockerfile:2: ENV: `=x` is not `NAME=value`"
    );
}

#[test]
fn a_heredoc_after_a_command_is_the_shell_s() {
    let file = Dockerfile::parse(
        "Dockerfile",
        "FROM scratch\nRUN echo <<<here\nRUN --network=none python3 - <<'EOF' > out\nprint(1)\nEOF\nRUN true\n",
    )
    .unwrap();
    let instructions = &file.stages[0].instructions;
    let Instruction::Run(run) = &instructions[1].value else {
        panic!()
    };
    assert_eq!(run.flags[0].name, "network");
    assert!(run.heredoc.is_none());
    assert_eq!(
        run.command,
        CommandLine::Shell("python3 - <<'EOF' > out\nprint(1)\nEOF".to_string())
    );
    assert_eq!(instructions[1].line, 3);
    assert_eq!(
        instructions[1].source,
        "RUN --network=none python3 - <<'EOF' > out"
    );
    assert_eq!(instructions[2].line, 6);
    let error =
        Dockerfile::parse("Dockerfile", "FROM scratch\nRUN cat <<A <<B\na\nA\nb\nB\n").unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert!(error.to_string().contains("several heredocs"), "{error}");
}

#[test]
fn escape_directive() {
    let file = Dockerfile::parse("Dockerfile", "# escape=`\nFROM scratch\nRUN a `\n  b\n").unwrap();
    assert_eq!(file.escape, '`');
    let Instruction::Run(run) = &file.stages[0].instructions[0].value else {
        panic!()
    };
    assert_eq!(run.command, CommandLine::Shell("a   b".to_string()));
}
