//! The settings crate's integration tests: one per settings mistake an operator makes, each with
//! the message it gets (the source named, the type in words, a suggestion for a near miss).

mod mistakes;
