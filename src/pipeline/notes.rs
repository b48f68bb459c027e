//! The journal notes of the steps that change the live tree or the repository, as typed values:
//! the step that writes a note and the start after a kill that reads it (`recover`) agree on
//! its fields because they share its type.
//!
//! Notes are read back from the journal's own JSON, written by this heal or an earlier one.
//! Reading never fails a recovery: what cannot be read counts as absent, as it always has.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::apply::Plan;
use crate::commit::{Change, Landed};

/// The `apply` step's note: the text of every file before the fix is written, so that a heal
/// killed half-way has it undone at its next start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyNote {
    /// A file whose entry cannot be read is left out: it is not put back, as before.
    #[serde(default, deserialize_with = "readable_items")]
    pub files: Vec<FileBefore>,
}

/// One file of an [`ApplyNote`]. Both fields are required: a file is only put back with the
/// text it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileBefore {
    /// Relative to the project root.
    pub file: String,
    pub before: String,
}

impl ApplyNote {
    pub fn of(plan: &Plan) -> ApplyNote {
        ApplyNote {
            files: plan
                .files
                .iter()
                .map(|f| FileBefore {
                    file: f.rel.clone(),
                    before: f.before.clone(),
                })
                .collect(),
        }
    }
}

/// The `publish` step's note: the applied fix's changes, and once its commit landed, where,
/// so that a heal killed before the push resumes the push instead of committing again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PublishNote {
    /// Unreadable, it reads as none: the fix is then not found in the tree, and not committed.
    #[serde(default, deserialize_with = "or_default")]
    pub changes: Vec<Change>,
    /// Unreadable, it reads as none: the fix is then committed anew, if the tree holds it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "or_default"
    )]
    pub landed: Option<Landed>,
}

/// Reads the note of a journal entry as `T`; a note that is not one (`null`, another shape)
/// reads as the empty note.
pub fn read<T: DeserializeOwned + Default>(data: &serde_json::Value) -> T {
    serde_json::from_value(data.clone()).unwrap_or_default()
}

/// A field that does not read as `T` is `T`'s default. Only for notes read from a JSON value
/// (see [`read`]): the value is whole in memory, so the fields after it still read.
fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(T::deserialize(deserializer).unwrap_or_default())
}

/// A list whose items that do not read as `T` are left out; anything but a list reads as an
/// empty one.
fn readable_items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let items: Vec<serde_json::Value> = or_default(deserializer)?;
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Notes as heal writes them: an apply note, a publish note once the commit landed, and
    /// one before (`tests/fixtures/journal/`, kept out of this file so no JSON key is written
    /// here by hand).
    const WRITTEN: &str = include_str!("../../tests/fixtures/journal/notes-as-written.json");
    /// Notes no heal writes: an apply note with two unreadable files of three, one whose files
    /// are not a list, a publish note whose `landed` is not a commit, one whose changes are not
    /// a list, and `null` (what the journal reads an unparsable note as).
    const UNREADABLE: &str = include_str!("../../tests/fixtures/journal/notes-unreadable.json");

    fn notes(text: &str) -> Vec<Value> {
        serde_json::from_str(text).expect("fixture")
    }

    #[test]
    fn notes_as_heal_writes_them_read_back_and_write_again() {
        let written = notes(WRITTEN);
        let apply: ApplyNote = read(&written[0]);
        assert_eq!(apply.files.len(), 1);
        assert_eq!(apply.files[0].file, "app.py");
        assert_eq!(apply.files[0].before, "x = 1\n");
        assert_eq!(serde_json::to_value(&apply).expect("note"), written[0]);
        let publish: PublishNote = read(&written[1]);
        assert_eq!(publish.changes[0].after, "b");
        assert_eq!(
            publish.landed.as_ref().map(|l| l.commit.as_str()),
            Some("c")
        );
        assert_eq!(serde_json::to_value(&publish).expect("note"), written[1]);
        let before_the_commit: PublishNote = read(&written[2]);
        assert!(before_the_commit.landed.is_none());
        assert_eq!(
            serde_json::to_value(&before_the_commit).expect("note"),
            written[2]
        );
    }

    #[test]
    fn what_cannot_be_read_is_left_out_and_the_rest_kept() {
        let unreadable = notes(UNREADABLE);
        let apply: ApplyNote = read(&unreadable[0]);
        assert_eq!(apply.files.len(), 1);
        assert_eq!(apply.files[0].file, "b.py");
        let apply: ApplyNote = read(&unreadable[1]);
        assert!(apply.files.is_empty());
        let publish: PublishNote = read(&unreadable[2]);
        assert_eq!(publish.changes.len(), 1);
        assert!(publish.landed.is_none());
        let publish: PublishNote = read(&unreadable[3]);
        assert!(publish.changes.is_empty());
        let publish: PublishNote = read(&unreadable[4]);
        assert!(publish.changes.is_empty() && publish.landed.is_none());
    }
}
