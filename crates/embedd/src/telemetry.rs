//! Where logs and traces go: logs to stderr as text or JSON lines, filtered by `EMBEDD_LOG`
//! (or `RUST_LOG`); with the `otel` cargo feature, each request's span also goes to an
//! OpenTelemetry collector over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names one.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::cli::LogFormat;

/// Keeps the trace exporter alive; dropping it sends the spans still buffered.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(traces) = self.traces.take() {
            if let Err(e) = traces.shutdown() {
                eprintln!("embedd: the last traces could not be sent: {e}");
            }
        }
    }
}

/// Start logging (and tracing, when built and configured for it). The server logs requests by
/// default, other commands only warnings, so their stdout stays machine-readable.
pub fn init(serving: bool, format: LogFormat) -> Telemetry {
    let filter = std::env::var("EMBEDD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| if serving { "info" } else { "warn" }.to_owned());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    #[cfg(feature = "otel")]
    let (traces, trace_layer) = match otel::provider() {
        Ok(Some(provider)) => {
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "embedd");
            let layer = tracing_opentelemetry::layer().with_tracer(tracer);
            (Some(provider), Some(layer))
        }
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("embedd: traces are off: {e}");
            (None, None)
        }
    };
    #[cfg(not(feature = "otel"))]
    let trace_layer: Option<tracing_subscriber::layer::Identity> = None;
    tracing_subscriber::registry()
        .with(logs)
        .with(trace_layer)
        .with(EnvFilter::new(filter))
        .init();
    Telemetry {
        #[cfg(feature = "otel")]
        traces,
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;

    /// A tracer provider exporting to the configured collector, or `None` when none is named.
    pub fn provider() -> Result<Option<SdkTracerProvider>, opentelemetry_otlp::ExporterBuildError> {
        let named = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if !named {
            return Ok(None);
        }
        // The endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()?;
        let resource = Resource::builder().with_service_name("embedd").build();
        Ok(Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        ))
    }
}
