//! Terraform's own plan text (what `terraform plan` prints, which is what
//! `terraform show` prints for the saved plan), cut into one block per
//! resource instance, so the summary can show each change as terraform
//! words it while grouping them by action.
//!
//! Must not: trust the text for anything but display. Sensitive values are
//! redacted by the caller ([`super::SensitiveValues`]): terraform masks the
//! attributes its schemas call sensitive, but not a copy of one in another
//! attribute (`terraform_data.output` repeats a sensitive `input`).

use std::collections::HashMap;

/// The line that opens the list of planned changes.
const ACTIONS_OPENERS: [&str; 2] = [
    "Terraform will perform the following actions:",
    "Terraform planned the following actions, but then encountered a problem:",
];

/// Terraform's plan text, by resource instance.
#[derive(Debug, Default)]
pub(crate) struct TerraformText<'t> {
    /// Change key (address, ` (deposed <key>)` for a deposed object) → its
    /// block's lines, as printed (two-space indent included).
    blocks: HashMap<String, Vec<&'t str>>,
    /// The `Changes to Outputs:` lines after that header, as printed.
    outputs: Vec<&'t str>,
}

impl<'t> TerraformText<'t> {
    /// Parses `text` (ANSI already stripped). Text that is not a plan gives
    /// no blocks, and the caller falls back to the JSON rendering.
    pub(crate) fn parse(text: &'t str) -> TerraformText<'t> {
        let mut parsed = TerraformText::default();
        let mut lines = text
            .lines()
            .skip_while(|l| !ACTIONS_OPENERS.contains(&l.trim()));
        if lines.next().is_none() {
            return parsed;
        }
        let mut current: Option<(String, Vec<&'t str>)> = None;
        let mut previous_blank = true;
        let mut in_outputs = false;
        for line in lines {
            // A replace's `-/+ resource` line is the one block line at the
            // margin; anything else there ends the list of changes.
            let at_margin = !line.is_empty()
                && !line.starts_with(' ')
                && !line.starts_with("-/+ ")
                && !line.starts_with("+/- ");
            if at_margin {
                parsed.finish(current.take());
                in_outputs = line.trim_end() == "Changes to Outputs:";
                previous_blank = false;
                continue;
            }
            if in_outputs {
                if !line.trim().is_empty() {
                    parsed.outputs.push(line);
                }
                continue;
            }
            // A block opens with `  # <address> will be …` after a blank
            // line; `  # (because …)` right below it continues it.
            if previous_blank && line.starts_with("  # ") {
                parsed.finish(current.take());
                current = key_of(&line[4..]).map(|key| (key, vec![line]));
            } else if let Some((_, block)) = current.as_mut() {
                if !line.trim().is_empty() {
                    block.push(line);
                }
            }
            previous_blank = line.trim().is_empty();
        }
        parsed.finish(current);
        parsed
    }

    fn finish(&mut self, block: Option<(String, Vec<&'t str>)>) {
        if let Some((key, lines)) = block {
            self.blocks.insert(key, lines);
        }
    }

    /// The block of one change key, if terraform printed one.
    pub(crate) fn block(&self, key: &str) -> Option<&[&'t str]> {
        self.blocks.get(key).map(Vec::as_slice)
    }

    /// The `Changes to Outputs:` lines (empty when there were none).
    pub(crate) fn outputs(&self) -> &[&'t str] {
        &self.outputs
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// The change key a block header names: `x has moved to y` is `y`'s block,
/// `x (deposed object k) will be destroyed` is `x (deposed k)` (see
/// [`super::change_key`]), anything else the text before the verb.
fn key_of(header: &str) -> Option<String> {
    if let Some((_, to)) = header.split_once(" has moved to ") {
        return Some(to.trim().to_string());
    }
    if let Some((address, rest)) = header.split_once(" (deposed object ") {
        let (deposed, _) = rest.split_once(')')?;
        return Some(format!("{address} (deposed {deposed})"));
    }
    [
        " will be ",
        " must be ",
        " is tainted",
        " will no longer be managed",
        " has changed",
        " has been deleted",
    ]
    .iter()
    .filter_map(|verb| header.find(verb))
    .min()
    .map(|at| header[..at].to_string())
}

/// One line of terraform's text with its action symbol moved to the first
/// column (and its indentation kept after it), so a ```` ```diff ```` fence
/// colours it: `      + id = 1` becomes `+       id = 1`. Block lines lose
/// terraform's two-space block indent first (`strip`).
pub(crate) fn diff_line(line: &str, strip: usize) -> String {
    let line = line.get(strip.min(leading_spaces(line))..).unwrap_or(line);
    let body = line.trim_start();
    let indent = line.len() - body.len();
    for symbol in ["-/+ ", "+/- ", "<= ", "+ ", "- ", "~ "] {
        if indent > 0 {
            if let Some(rest) = body.strip_prefix(symbol) {
                return format!("{symbol}{}{rest}", " ".repeat(indent));
            }
        }
    }
    line.to_string()
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `terraform plan` output of terraform 1.15 (trimmed), one block of each kind.
    const PLAN: &str = r#"terraform_data.keep: Refreshing state... [id=54e0]

Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create
  ~ update in-place

Terraform will perform the following actions:

  # terraform_data.added will be created
  + resource "terraform_data" "added" {
      + id     = (known after apply)
    }

  # terraform_data.gone will be destroyed
  # (because terraform_data.gone is not in configuration)
  - resource "terraform_data" "gone" {
      - id     = "01f2" -> null
    }

  # terraform_data.old has moved to terraform_data.new
    resource "terraform_data" "new" {
        id     = "662a"
        # (2 unchanged attributes hidden)
    }

  # null_resource.r must be replaced
-/+ resource "null_resource" "r" {
      ~ id = "1" -> (known after apply)
    }

  # aws_instance.web (deposed object 1a2b) will be destroyed
  - resource "aws_instance" "web" {
    }

Plan: 1 to add, 0 to change, 2 to destroy.

Changes to Outputs:
  ~ o = "a" -> (known after apply)

Saved the plan to: p.tfplan
"#;

    #[test]
    fn cuts_terraform_text_into_blocks_by_change_key() {
        let text = TerraformText::parse(PLAN);
        assert_eq!(text.block("terraform_data.added").unwrap().len(), 4);
        let gone = text.block("terraform_data.gone").unwrap();
        assert_eq!(
            gone[1],
            "  # (because terraform_data.gone is not in configuration)"
        );
        assert_eq!(gone.len(), 5);
        assert!(text.block("terraform_data.new").is_some());
        assert_eq!(text.block("null_resource.r").unwrap().len(), 4);
        assert!(text.block("terraform_data.old").is_none());
        assert!(text.block("aws_instance.web (deposed 1a2b)").is_some());
        assert_eq!(text.outputs(), ["  ~ o = \"a\" -> (known after apply)"]);
        // Refresh lines and the symbol legend are never a block.
        assert!(TerraformText::parse("  # x will be created\n").is_empty());
    }

    #[test]
    fn symbols_move_to_the_first_column_and_keep_the_indent() {
        assert_eq!(diff_line("      + id = 1", 2), "+     id = 1");
        assert_eq!(
            diff_line("-/+ resource \"a\" \"b\" {", 2),
            "-/+ resource \"a\" \"b\" {"
        );
        assert_eq!(
            diff_line("  ~ resource \"a\" \"b\" {", 2),
            "~ resource \"a\" \"b\" {"
        );
        assert_eq!(diff_line("        id = \"x\"", 2), "      id = \"x\"");
        assert_eq!(diff_line("  # x will be created", 2), "# x will be created");
    }
}
