//! The status line: the last load's or action's outcome, which several plugins write.

use bevy::prelude::*;

/// The last load's outcome, shown in the panels' status line.
#[derive(Resource, Debug, Clone, Default)]
pub struct StatusLine {
    /// Last error, if the last action failed.
    pub error: Option<String>,
    /// Last informational message.
    pub info: Option<String>,
}
