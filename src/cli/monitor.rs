//! `edgeclip monitor`: watch a stream of images for degradation, without labels.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use edgeclip::fsutil::write_atomic;
use edgeclip::imageio::load_rgb;
use edgeclip::model::ModelDir;
use edgeclip::monitor::calibrate::Calibration;
use edgeclip::monitor::stream::{Source, Stream};
use edgeclip::monitor::{prometheus, Monitor};
use edgeclip::zeroshot::{templates, PromptSource};
use serde_json::json;

use super::selfcheck::interrupt_flag;

const AFTER: &str = "\
Each frame's image embedding is scored against the prompt embeddings. The monitor keeps a
windowed ATC accuracy estimate with a 95% interval, a DoC estimate, a CUSUM alarm on the
ATC hits, a Page-Hinkley alarm on the entropy and a chi-square test of the predicted-class
histogram, all with constant memory.

Output on stdout, one JSON object per line:
  {\"event\":\"alarm\",\"frame\":N,\"path\":P,\"detectors\":[...],\"snapshot\":{...}}
  {\"event\":\"skip\",\"path\":P,\"reason\":R}          unreadable image, counted, never fatal
  {\"event\":\"window\",\"snapshot\":{...}}             every --report-every frames and at the end
  (--frames adds {\"event\":\"frame\",\"frame\":N,\"path\":P,\"predicted\":L,...} per frame)
The snapshot: frames, skipped, window_frames, atc_accuracy, atc_low, atc_high,
doc_accuracy, cusum(+_threshold), page_hinkley(+_threshold), chi_square(+_critical),
alarms {cusum, page_hinkley, chi_square}, last_alarm.

--metrics FILE writes the Prometheus text format atomically (for node_exporter's textfile
collector); --listen ADDR serves it over HTTP. --state FILE saves the monitor's state
atomically every --save-every frames and at exit, and resumes from it (including the
position in a --list file or --watch folder); a damaged or foreign state file is an error
until --reset-state starts afresh.

Examples:
  edgeclip monitor --calibration site.ecc --cache prompts.ecp --watch /data/frames \\
      --state monitor.state --metrics /var/lib/node_exporter/textfile/edgeclip.prom
  find frames -name '*.png' | edgeclip monitor --calibration site.ecc -
  edgeclip monitor --calibration site.ecc --list paths.txt --listen 0.0.0.0:9464";

/// Arguments of `edgeclip monitor`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER)]
pub struct Args {
    /// Image paths to score in order; `-` reads paths from standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A file of image paths, one per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["paths", "watch"])]
    pub list: Option<PathBuf>,
    /// Watch a folder and score new images as they appear (until Ctrl-C / SIGTERM).
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub watch: Option<PathBuf>,
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Calibration file from `edgeclip calibrate`.
    #[arg(long, value_name = "FILE")]
    pub calibration: PathBuf,
    /// Prompt cache (default: prompts from the calibration's labels, `simple` templates).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Frames per window summary line.
    #[arg(long, default_value_t = 500)]
    pub report_every: u64,
    /// Print a line for every frame too.
    #[arg(long)]
    pub frames: bool,
    /// State file to resume from and save to.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Ignore an existing state file and start afresh.
    #[arg(long, requires = "state")]
    pub reset_state: bool,
    /// Save the state (and metrics) every N frames.
    #[arg(long, default_value_t = 100)]
    pub save_every: u64,
    /// Prometheus text file to keep up to date.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Serve the metrics over HTTP at this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Polling interval for --watch, milliseconds.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// A watched file is read once unchanged this long, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// Threads for the encoder's matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn serve(addr: &str, text: Arc<Mutex<String>>) -> Result<()> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    if let Ok(local) = listener.local_addr() {
        eprintln!("serving metrics on http://{local}/metrics");
    }
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut conn, &mut buf);
            let body = text.lock().map(|t| t.clone()).unwrap_or_default();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    if args.report_every == 0 || args.save_every == 0 {
        bail!("--report-every and --save-every must be at least 1");
    }
    let source = match (&args.list, &args.watch, args.paths.as_slice()) {
        (Some(list), _, _) => Source::List(list.clone()),
        (_, Some(dir), _) => Source::Watch {
            dir: dir.clone(),
            poll: Duration::from_millis(args.poll_ms.max(1)),
            settle: Duration::from_millis(args.settle_ms),
        },
        (_, _, [one]) if one.as_os_str() == "-" => Source::Stdin,
        (_, _, []) => bail!("give image paths, `-` for paths on stdin, --list FILE or --watch DIR"),
        (_, _, paths) => Source::Paths(paths.to_vec()),
    };
    let calibration = Calibration::load(&args.calibration)?;
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let cache = match args.cache {
        Some(path) => PromptSource::Cache(path),
        None => PromptSource::Labels {
            labels: calibration.labels.clone(),
            templates: templates::resolve("simple")?,
        },
    }
    .resolve(&dir)?;
    calibration.check(&dir.image_fingerprint()?, &cache.content_fingerprint()?)?;
    let encoder = dir.image_encoder(super::encoder_options(args.threads)?)?;
    let model_name = dir.manifest().name.clone();
    let mut monitor = Monitor::new(
        calibration,
        cache.head,
        cache.embeddings.clone(),
        cache.dim as usize,
    )?;
    if let Some(state) = &args.state {
        if state.exists() && !args.reset_state {
            monitor.restore(Monitor::load_state(state)?)?;
        }
    }
    let mut stream = Stream::open(source, monitor.state().resume.as_deref())?;
    let metrics_text = Arc::new(Mutex::new(prometheus::render(
        &monitor.snapshot(),
        &model_name,
    )));
    if let Some(addr) = &args.listen {
        serve(addr, metrics_text.clone())?;
    }
    let stop = interrupt_flag();
    let out = std::io::stdout();
    let emit = |v: serde_json::Value| -> Result<()> {
        let mut lock = out.lock();
        writeln!(lock, "{v}")?;
        lock.flush()?;
        Ok(())
    };
    let persist = |monitor: &mut Monitor, stream: &Stream| -> Result<()> {
        monitor.set_resume(stream.resume_token());
        if let Some(path) = &args.state {
            monitor.save_state(path)?;
        }
        let text = prometheus::render(&monitor.snapshot(), &model_name);
        if let Some(path) = &args.metrics {
            write_atomic(path, text.as_bytes())?;
        }
        if let Ok(mut t) = metrics_text.lock() {
            *t = text;
        }
        Ok(())
    };
    let mut since_save = 0u64;
    while let Some(path) = stream.next(&stop)? {
        let embedding = load_rgb(&path).and_then(|img| encoder.embed_image(&img));
        match embedding {
            Err(e) => {
                monitor.skip();
                emit(json!({"event": "skip", "path": path, "reason": format!("{e:#}")}))?;
            }
            Ok(e) => {
                let f = monitor.observe(&e)?;
                let frame = monitor.state().frames;
                if args.frames {
                    emit(json!({"event": "frame", "frame": frame, "path": path,
                        "predicted": monitor.calibration().labels[f.predicted],
                        "confidence": f.confidence, "entropy": f.entropy, "atc_hit": f.atc_hit}))?;
                }
                if !f.alarms.is_empty() {
                    emit(json!({"event": "alarm", "frame": frame, "path": path,
                        "detectors": f.alarms, "snapshot": monitor.snapshot()}))?;
                }
                if frame % args.report_every == 0 {
                    emit(json!({"event": "window", "snapshot": monitor.snapshot()}))?;
                }
            }
        }
        since_save += 1;
        if since_save >= args.save_every {
            persist(&mut monitor, &stream)?;
            since_save = 0;
        } else if args.listen.is_some() {
            // A scrape sees every frame; files are written only every --save-every.
            let text = prometheus::render(&monitor.snapshot(), &model_name);
            if let Ok(mut t) = metrics_text.lock() {
                *t = text;
            }
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    persist(&mut monitor, &stream)?;
    emit(json!({"event": "window", "snapshot": monitor.snapshot(), "final": true}))?;
    Ok(())
}
