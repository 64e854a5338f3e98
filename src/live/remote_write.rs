//! `flashbench run --prometheus-remote-write URL`: pushes the current run's series to a
//! Prometheus remote-write endpoint (protocol 1.0: protobuf `WriteRequest`, snappy-compressed)
//! every [`PUSH_EVERY`] and once more when the run ends. This is k6's choice: a burst that is
//! over in two seconds is missed by a 15 s scrape, but pushed samples carry their own
//! timestamps. (A Pushgateway keeps only the last value of each series and must be scraped
//! too, so the curve of a short run would be lost.) Prometheus accepts it with
//! `--web.enable-remote-write-receiver` at `/api/v1/write`; Mimir, Thanos, VictoriaMetrics and
//! Grafana Cloud accept it too. A user and password in the URL are sent as basic auth.
//!
//! What is pushed is exactly what `--metrics-listen` serves: the OpenMetrics text of the run is
//! read back into samples, plus `job="flashbench"`.

use super::Live;
use prost::Message;
use std::time::Duration;

/// How often the series are pushed while a run goes on.
pub const PUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("--prometheus-remote-write {0:?}: expected an http:// or https:// URL, such as http://127.0.0.1:9090/api/v1/write")]
    Url(String),
    #[error("remote write to {url}: {why}")]
    Push { url: String, why: String },
}

/// Where and how to push.
#[derive(Debug, Clone)]
pub struct RemoteWrite {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl RemoteWrite {
    pub fn new(url: &str) -> Result<Self, RemoteWriteError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| RemoteWriteError::Url(url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(RemoteWriteError::Url(url.to_string()));
        }
        let client = reqwest::Client::builder()
            .timeout(PUSH_TIMEOUT)
            .build()
            .map_err(|e| RemoteWriteError::Push { url: redacted(&parsed), why: e.to_string() })?;
        Ok(RemoteWrite { url: parsed, client })
    }

    /// The URL without its password, for messages.
    pub fn describe(&self) -> String {
        redacted(&self.url)
    }

    /// Pushes `live`'s series now.
    pub async fn push(&self, live: &Live) -> Result<(), RemoteWriteError> {
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let request = write_request(&live.metrics.encode(), now_ms);
        let body =
            snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).map_err(|e| self.failed(e.to_string()))?;
        let mut url = self.url.clone();
        let (user, password) = (url.username().to_string(), url.password().map(str::to_string));
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut post = self
            .client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        if !user.is_empty() {
            post = post.basic_auth(user, password);
        }
        let answer = post.send().await.map_err(|e| self.failed(crate::text::describe(&e)))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let text = answer.text().await.unwrap_or_default();
            return Err(self.failed(format!("answered {status}: {}", text.trim())));
        }
        Ok(())
    }

    fn failed(&self, why: String) -> RemoteWriteError {
        RemoteWriteError::Push { url: self.describe(), why }
    }

    /// Pushes the current run every [`PUSH_EVERY`] until aborted; the first failure is
    /// reported on stderr (monitoring never stops a run), and so is the recovery.
    pub fn spawn(self, quiet: bool) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PUSH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut failing = false;
            loop {
                every.tick().await;
                let Some(live) = super::listen::current() else { continue };
                match self.push(&live).await {
                    Ok(()) if failing => {
                        failing = false;
                        if !quiet {
                            crate::logging::line(format!("remote write to {} works again", self.describe()));
                        }
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        crate::logging::line(format!("warning: {e}; the run goes on, its report is not affected"));
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

fn redacted(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// Remote write 1.0 messages (prometheus/prompb/types.proto, the parts used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One sample line of an exposition: its series name, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The samples of an OpenMetrics/Prometheus text exposition (comments skipped; a line that
/// does not parse is skipped too: this reads back flashbench's own output).
pub fn parse_exposition(text: &str) -> Vec<Parsed> {
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Parsed> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Parsed { name, labels, value })
}

/// The remote-write request of an exposition, every sample at `timestamp_ms`.
pub fn write_request(exposition: &str, timestamp_ms: i64) -> WriteRequest {
    let timeseries = parse_exposition(exposition)
        .into_iter()
        .map(|p| {
            let mut labels: Vec<Label> = p
                .labels
                .into_iter()
                .chain([("__name__".to_string(), p.name), ("job".to_string(), "flashbench".to_string())])
                .map(|(name, value)| Label { name, value })
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            labels.dedup_by(|a, b| a.name == b.name);
            TimeSeries { labels, samples: vec![Sample { value: p.value, timestamp: timestamp_ms }] }
        })
        .collect();
    WriteRequest { timeseries }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_samples_with_escaped_labels() {
        let text =
            "# TYPE x counter\nx_total{a=\"1\",b=\"q\\\"u\\\\o\\nte\"} 5\nup 1\nh_bucket{le=\"+Inf\"} 3\n# EOF\n";
        let got = parse_exposition(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, "x_total");
        assert_eq!(got[0].labels, vec![("a".into(), "1".into()), ("b".into(), "q\"u\\o\nte".into())]);
        assert_eq!(got[0].value, 5.0);
        assert_eq!((got[1].name.as_str(), got[1].value), ("up", 1.0));
        assert_eq!(got[2].labels, vec![("le".into(), "+Inf".into())]);
    }

    #[test]
    fn a_request_holds_every_series_of_the_run_with_sorted_labels() {
        let text = super::super::exposition_example();
        let req = write_request(&text, 1_700_000_000_000);
        let won = req
            .timeseries
            .iter()
            .find(|t| {
                t.labels.iter().any(|l| l.name == "__name__" && l.value == "flashbench_run_attempts_total")
                    && t.labels.iter().any(|l| l.name == "outcome" && l.value == "won")
            })
            .expect("won attempts pushed");
        assert_eq!(won.samples, vec![Sample { value: 1.0, timestamp: 1_700_000_000_000 }]);
        for t in &req.timeseries {
            let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "labels sorted by name");
            assert!(names.contains(&"scenario") && names.contains(&"job"));
        }
        // The encoding round-trips.
        let bytes = req.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).ok(), Some(req));
    }

    #[test]
    fn refuses_urls_that_are_not_http() {
        assert!(RemoteWrite::new("127.0.0.1:9090").is_err());
        assert!(RemoteWrite::new("ftp://x/api/v1/write").is_err());
        let rw = RemoteWrite::new("https://user:secret@example.com/api/v1/write").expect("valid");
        assert!(!rw.describe().contains("secret"), "{}", rw.describe());
    }
}
