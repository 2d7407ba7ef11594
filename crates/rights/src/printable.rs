//! The consolidated answer as the page a person receives: HTML that prints well on A4, in plain
//! French — who holds what, why (the purpose and the legal basis), until when; that the social
//! service's files are a separate processing to ask about at one's health-insurance body; how to
//! complain to the CNIL; the parties that did not answer in time, with the date they were asked.

use crate::ConsolidatedAnswer;

/// The page, a whole HTML document (its own stylesheet, no script, no outside resource).
pub fn page(answer: &ConsolidatedAnswer) -> String {
    let _ = answer;
    todo!()
}
