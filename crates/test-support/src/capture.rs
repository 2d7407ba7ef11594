//! Looking for what must not be written: a buffer that collects a subscriber's log lines, and
//! a byte search for a NIR or a name in files and logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A log sink shared between a `tracing` subscriber and the test that reads it:
/// `.with_writer(move || logs.clone())`, then [`LogBuffer::text`].
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Every byte written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().expect("a writer panicked").clone()
    }

    /// Every line written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("a writer panicked").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle occurs everywhere).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn what_a_clone_writes_the_buffer_shows() {
        let logs = LogBuffer::default();
        let mut writer = logs.clone();
        writer.write_all(b"chunk answered\n").unwrap();
        assert_eq!(logs.text(), "chunk answered\n");
        assert!(contains(&logs.bytes(), b"answered"));
        assert!(!contains(&logs.bytes(), b"1500375001001"));
    }
}
