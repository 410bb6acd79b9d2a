//! Spilled runs: Arrow IPC streams cut into segment files, and their k-way
//! merge.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use super::run::{gather, gather_sorted, Run, SharedDictionaries, SortScratch};
use super::IndexError;

/// Bytes per segment file of a spilled run. The merge deletes each
/// segment once it has read it, so the page cache it held is freed while
/// the output is written instead of at the end.
const SEGMENT_BYTES: u64 = 2 << 20;

/// Name of the key column in spilled runs.
const KEY_COLUMN: &str = "__pointillist_hilbert_key";

/// The schema of spilled runs: the data's, plus the key.
pub(super) fn spill_schema(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        KEY_COLUMN,
        arrow_schema::DataType::UInt32,
        false,
    )));
    Arc::new(arrow_schema::Schema::new(fields))
}

/// A spilled run: its segment files, in order.
#[derive(Debug)]
pub(super) struct SpilledRun {
    segments: Vec<PathBuf>,
}

impl SpilledRun {
    fn label(&self) -> PathBuf {
        self.segments.first().cloned().unwrap_or_default()
    }
}

fn segment_path(dir: &Path, run: usize, segment: usize) -> PathBuf {
    dir.join(format!("run-{run:05}-{segment:04}.arrow"))
}

/// Writes one stream across segment files of about [`SEGMENT_BYTES`].
struct SegmentWriter {
    dir: PathBuf,
    run: usize,
    file: Option<File>,
    written: u64,
    segments: Vec<PathBuf>,
}

impl SegmentWriter {
    fn new(dir: &Path, run: usize) -> SegmentWriter {
        SegmentWriter {
            dir: dir.to_path_buf(),
            run,
            file: None,
            written: 0,
            segments: Vec::new(),
        }
    }
}

impl Write for SegmentWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() || self.written >= SEGMENT_BYTES {
            let path = segment_path(&self.dir, self.run, self.segments.len());
            self.file = Some(File::create(&path)?);
            self.segments.push(path);
            self.written = 0;
        }
        let Some(f) = self.file.as_mut() else {
            return Err(std::io::Error::other("segment file not open"));
        };
        let n = f.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Reads the segments of a spilled run in turn, deleting each at its end.
struct SegmentReader {
    segments: std::vec::IntoIter<PathBuf>,
    current: Option<(File, PathBuf)>,
}

impl Read for SegmentReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.current.is_none() {
                match self.segments.next() {
                    Some(p) => self.current = Some((File::open(&p)?, p)),
                    None => return Ok(0),
                }
            }
            if let Some((f, _)) = self.current.as_mut() {
                let n = f.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
            }
            if let Some((f, p)) = self.current.take() {
                drop(f);
                // Best effort: the temporary directory goes at the end anyway.
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// Time a spill took, by step.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SpillTimes {
    pub(super) sort: Duration,
    pub(super) gather: Duration,
    pub(super) write: Duration,
}

/// Sorted batches gathered at once (in parallel) before they are written.
const GATHER_AT_ONCE: usize = 8;

/// Sort `run` and write it, in batches of `batch_rows`, to segment files
/// in `dir`.
pub(super) fn spill_run(
    run: &Run,
    scratch: &mut SortScratch,
    schema: &SchemaRef,
    dir: &Path,
    n: usize,
    batch_rows: usize,
) -> Result<(SpilledRun, SpillTimes), IndexError> {
    let path = segment_path(dir, n, 0);
    let io_err = |source| IndexError::Io {
        path: path.clone(),
        source,
    };
    let arrow_err = |source| IndexError::Arrow {
        path: path.clone(),
        source,
    };
    let mut times = SpillTimes::default();
    let spill = spill_schema(schema);
    let sink = BufWriter::with_capacity(1 << 20, SegmentWriter::new(dir, n));
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(sink, &spill).map_err(arrow_err)?;
    let t = Instant::now();
    let order = run.sort(scratch);
    times.sort = t.elapsed();
    let parts: Vec<&[u64]> = order.chunks(batch_rows.max(1)).collect();
    let gather_group = |group: &[&[u64]]| {
        let t = Instant::now();
        let gathered: Vec<Result<RecordBatch, arrow_schema::ArrowError>> = group
            .par_iter()
            .map(|part| {
                let (batch, keys) = gather_sorted(&run.batches, part)?;
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(UInt32Array::from(keys)));
                RecordBatch::try_new(Arc::clone(&spill), columns)
            })
            .collect();
        (gathered, t.elapsed())
    };
    // Each group is written while the next is gathered.
    let mut groups = parts.chunks(GATHER_AT_ONCE);
    let mut pending = groups.next().map(gather_group);
    while let Some((gathered, tg)) = pending.take() {
        times.gather += tg;
        let (written, next) = rayon::join(
            || {
                let t = Instant::now();
                let r = gathered.into_iter().try_for_each(|b| writer.write(&b?));
                (r, t.elapsed())
            },
            || groups.next().map(gather_group),
        );
        times.write += written.1;
        written.0.map_err(arrow_err)?;
        pending = next;
    }
    let t = Instant::now();
    writer.finish().map_err(arrow_err)?;
    let sink = writer.into_inner().map_err(arrow_err)?;
    let mut segments = sink.into_inner().map_err(|e| io_err(e.into_error()))?;
    segments.flush().map_err(io_err)?;
    times.write += t.elapsed();
    Ok((
        SpilledRun {
            segments: std::mem::take(&mut segments.segments),
        },
        times,
    ))
}

/// One spilled run being merged.
struct RunCursor {
    reader: arrow_ipc::reader::StreamReader<BufReader<SegmentReader>>,
    /// Slot of the current batch in the merge's batch list.
    slot: usize,
    keys: UInt32Array,
    row: usize,
    path: PathBuf,
}

impl RunCursor {
    /// Load the next non-empty batch into `slots`; false at the end.
    fn advance(
        &mut self,
        slots: &mut Vec<RecordBatch>,
        shared: &SharedDictionaries,
    ) -> Result<bool, IndexError> {
        let arrow_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Arrow { path, source }
        };
        for batch in self.reader.by_ref() {
            let batch = batch.map_err(arrow_err(&self.path))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let last = batch.num_columns() - 1;
            let keys = batch
                .column(last)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .cloned()
                .ok_or_else(|| IndexError::LostKeyColumn {
                    path: self.path.clone(),
                })?;
            let data = batch
                .project(&(0..last).collect::<Vec<_>>())
                .and_then(|b| shared.adopt(b))
                .map_err(arrow_err(&self.path))?;
            self.keys = keys;
            self.row = 0;
            self.slot = slots.len();
            slots.push(data);
            return Ok(true);
        }
        Ok(false)
    }

    fn key(&self) -> u32 {
        self.keys.values()[self.row]
    }
}

/// A source of rows in key order, handed out in batches.
pub(super) trait SortedRows: Send {
    /// The next at most `rows` rows; `None` at the end.
    fn next_batch(&mut self, rows: usize) -> Result<Option<RecordBatch>, IndexError>;
}

/// k-way merge of spilled runs; ties go to the earlier run (input order).
pub(super) struct Merge<'a> {
    cursors: Vec<RunCursor>,
    /// Batches the cursors point into (and, until a batch is gathered,
    /// ones they have left).
    slots: Vec<RecordBatch>,
    /// `key << 32 | run` of each run's next row.
    heap: BinaryHeap<Reverse<u64>>,
    shared: &'a SharedDictionaries,
    idx: Vec<(usize, usize)>,
}

fn head(key: u32, run: usize) -> Reverse<u64> {
    Reverse((u64::from(key) << 32) | run as u64)
}

impl<'a> Merge<'a> {
    pub(super) fn open(
        runs: &[SpilledRun],
        shared: &'a SharedDictionaries,
    ) -> Result<Merge<'a>, IndexError> {
        let mut m = Merge {
            cursors: Vec::with_capacity(runs.len()),
            slots: Vec::new(),
            heap: BinaryHeap::with_capacity(runs.len()),
            shared,
            idx: Vec::new(),
        };
        for (i, run) in runs.iter().enumerate() {
            let path = run.label();
            let source = SegmentReader {
                segments: run.segments.clone().into_iter(),
                current: None,
            };
            let reader = arrow_ipc::reader::StreamReader::try_new(BufReader::new(source), None)
                .map_err(|source| IndexError::Arrow {
                    path: path.clone(),
                    source,
                })?;
            let mut c = RunCursor {
                reader,
                slot: 0,
                keys: UInt32Array::from(Vec::<u32>::new()),
                row: 0,
                path,
            };
            if c.advance(&mut m.slots, shared)? {
                m.heap.push(head(c.key(), i));
            }
            m.cursors.push(c);
        }
        Ok(m)
    }
}

impl SortedRows for Merge<'_> {
    fn next_batch(&mut self, rows: usize) -> Result<Option<RecordBatch>, IndexError> {
        self.idx.clear();
        while self.idx.len() < rows {
            let Some(mut top) = self.heap.peek_mut() else {
                break;
            };
            let run = (top.0 & 0xFFFF_FFFF) as usize;
            let c = &mut self.cursors[run];
            self.idx.push((c.slot, c.row));
            c.row += 1;
            if c.row < c.keys.len() || c.advance(&mut self.slots, self.shared)? {
                *top = head(c.key(), run);
            } else {
                // Exhausted: its last batch can go after this gather.
                c.slot = usize::MAX;
                PeekMut::pop(top);
            }
        }
        if self.idx.is_empty() {
            return Ok(None);
        }
        let batch = gather(&self.slots, &self.idx).map_err(|source| IndexError::Arrow {
            path: PathBuf::from("<merge>"),
            source,
        })?;
        // Keep only the batches the cursors still point into.
        let mut kept = Vec::with_capacity(self.cursors.len());
        for c in self.cursors.iter_mut() {
            if c.slot < self.slots.len() {
                kept.push(self.slots[c.slot].clone());
                c.slot = kept.len() - 1;
            }
        }
        self.slots = kept;
        Ok(Some(batch))
    }
}

/// A run sorted in memory, handed out in key order.
pub(super) struct InMemory<'a> {
    run: &'a Run,
    order: &'a [u64],
    at: usize,
}

impl<'a> InMemory<'a> {
    pub(super) fn new(run: &'a Run, scratch: &'a mut SortScratch) -> InMemory<'a> {
        let order = run.sort(scratch);
        InMemory { run, order, at: 0 }
    }
}

impl SortedRows for InMemory<'_> {
    fn next_batch(&mut self, rows: usize) -> Result<Option<RecordBatch>, IndexError> {
        let end = (self.at + rows).min(self.order.len());
        if end == self.at {
            return Ok(None);
        }
        let part = &self.order[self.at..end];
        self.at = end;
        let (batch, _) =
            gather_sorted(&self.run.batches, part).map_err(|source| IndexError::Arrow {
                path: PathBuf::from("<sort>"),
                source,
            })?;
        Ok(Some(batch))
    }
}
