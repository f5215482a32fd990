//! `RUN cmd <<EOF`: a heredoc after the command, which `parse-dockerfile` reads only at the
//! start of a `RUN` (`RUN <<EOF`). Before parsing, such a line's command is blanked out
//! (spaces, so every offset and line number stays), the crate reads a bare heredoc, and the
//! command is put back: the `RUN` becomes the shell script `cmd <<EOF\nbody\nEOF`, which the
//! shell runs as `BuildKit`'s does.

use std::collections::BTreeMap;

/// The text to parse, and for each lifted line (from 1) the command as written, from after
/// the flags to the end of the line (`python3 - <<EOF`).
pub(super) fn lift(text: &str) -> (String, BTreeMap<usize, String>) {
    let mut lifted = BTreeMap::new();
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match command_span(line) {
            Some((start, end)) => {
                out.push_str(&line[..start]);
                out.extend(std::iter::repeat_n(' ', end - start));
                out.push_str(&line[end..]);
                lifted.insert(index + 1, line[start..].trim_end().to_string());
            }
            None => out.push_str(line),
        }
    }
    (out, lifted)
}

/// In a `RUN` line that opens one heredoc after its command: the byte range of the command
/// before the `<<`.
fn command_span(line: &str) -> Option<(usize, usize)> {
    let words = words_with_offsets(line);
    let (first, _) = words.first()?;
    if !first.eq_ignore_ascii_case("RUN") {
        return None;
    }
    let rest: Vec<&(&str, usize)> = words[1..]
        .iter()
        .skip_while(|(word, _)| word.starts_with("--"))
        .collect();
    let (_, command_start) = rest.first()?;
    let openers: Vec<usize> = rest
        .iter()
        .filter(|(word, _)| opens_heredoc(word))
        .map(|(_, offset)| *offset)
        .collect();
    match openers.as_slice() {
        [opener] if opener > command_start => Some((*command_start, *opener)),
        _ => None,
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` (not `<<<`, a here-string).
pub(super) fn opens_heredoc(word: &str) -> bool {
    word.strip_prefix("<<").is_some_and(|rest| {
        rest.trim_start_matches('-').starts_with(|ch: char| {
            ch.is_ascii_alphabetic() || ch == '_' || ch == '"' || ch == '\''
        })
    })
}

fn words_with_offsets(line: &str) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for (offset, ch) in line.char_indices() {
        match (ch.is_whitespace(), start) {
            (true, Some(begin)) => {
                words.push((&line[begin..offset], begin));
                start = None;
            }
            (false, None) => start = Some(offset),
            _ => {}
        }
    }
    if let Some(begin) = start {
        words.push((&line[begin..], begin));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_before_a_heredoc_are_lifted() {
        let text =
            "FROM x\nRUN --network=none python3 - <<EOF\nprint(1)\nEOF\nRUN <<A\nA\nRUN cat <<<x\n";
        let (parsed, lifted) = lift(text);
        assert_eq!(parsed.len(), text.len());
        assert!(
            parsed.contains(&format!("RUN --network=none {}<<EOF\n", " ".repeat(10))),
            "{parsed}"
        );
        assert_eq!(lifted, BTreeMap::from([(2, "python3 - <<EOF".to_string())]));
    }
}
