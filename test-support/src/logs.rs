//! Log lines captured in memory.

use std::sync::Mutex;

/// Log lines captured in memory: a `MakeWriter` for [`shared::telemetry::subscriber`], e.g.
/// `let _guard = tracing::subscriber::set_default(subscriber(None, true, buf.clone()));`.
#[derive(Clone, Default)]
pub struct LogBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
