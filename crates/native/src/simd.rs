//! Which instruction set embedd's kernels run: the best this CPU has, or a lesser one forced with
//! `EMBEDD_SIMD=native|avx512|avx2|portable`, so that every path can be measured and tested on a
//! machine that has the best one (an AVX-512 machine also proves the AVX2 and portable paths).
//!
//! The choice is process-wide and read once; asking for more than the CPU has gets what it has.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set path, from the slowest to the fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Simd {
    /// Code compiled for the baseline target (SSE2 on x86-64), runs anywhere.
    Portable,
    /// AVX2 with FMA (most x86-64 CPUs since 2013, AMD Zen 1-3 among them).
    Avx2,
    /// AVX-512 (F and BW): the GEMM's 512-bit kernels, and VNNI for int8 where the CPU has it.
    Avx512,
}

impl Simd {
    /// The path's name as `EMBEDD_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// The best path this CPU runs (std caches the feature tests).
    pub fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f") && has!("avx512bw") {
                    return Self::Avx512;
                }
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    /// Whether code on this path runs the AVX2 + FMA builds: the path asks for them and the CPU
    /// has them (what makes calling those builds sound).
    pub fn runs_avx2(self) -> bool {
        self >= Self::Avx2 && Self::detected() >= Self::Avx2
    }

    /// Every path this CPU can run, slowest first: what a test covers.
    pub fn available() -> Vec<Self> {
        let best = Self::detected();
        [Self::Portable, Self::Avx2, Self::Avx512]
            .into_iter()
            .filter(|path| *path <= best)
            .collect()
    }

    /// Read an `EMBEDD_SIMD` value: `native` (or empty) is `None`, the best there is.
    pub fn parse(value: &str) -> Result<Option<Self>, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "native" => Ok(None),
            "avx512" => Ok(Some(Self::Avx512)),
            "avx2" => Ok(Some(Self::Avx2)),
            "portable" => Ok(Some(Self::Portable)),
            other => Err(format!(
                "EMBEDD_SIMD={other:?} is not one of native, avx512, avx2, portable"
            )),
        }
    }
}

impl std::fmt::Display for Simd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The active path; 0 until first read, then the path's index plus one.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

fn encode(path: Simd) -> u8 {
    path as u8 + 1
}

fn decode(value: u8) -> Simd {
    match value {
        1 => Simd::Portable,
        2 => Simd::Avx2,
        _ => Simd::Avx512,
    }
}

/// The path every kernel runs now: `EMBEDD_SIMD` capped at what the CPU has, read on first use
/// (an unknown value is reported by [`requested`] and runs the best path).
pub fn active() -> Simd {
    match ACTIVE.load(Ordering::Relaxed) {
        0 => {
            let wanted = requested().ok().flatten();
            let path = wanted.map_or(Simd::detected(), |w| w.min(Simd::detected()));
            // Several threads may get here first; they all compute the same value.
            ACTIVE.store(encode(path), Ordering::Relaxed);
            path
        }
        value => decode(value),
    }
}

/// What `EMBEDD_SIMD` asks for: `Ok(None)` for the best path (unset or `native`).
pub fn requested() -> Result<Option<Simd>, String> {
    match std::env::var("EMBEDD_SIMD") {
        Ok(value) => Simd::parse(&value),
        Err(_) => Ok(None),
    }
}

/// Switch every kernel of this process to `path` (capped at what the CPU has) and return the
/// path now active. For benchmarks and tests that compare paths in one process; a server sets
/// nothing and runs what [`active`] chose.
pub fn force(path: Simd) -> Simd {
    let path = path.min(Simd::detected());
    ACTIVE.store(encode(path), Ordering::Relaxed);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_reads_its_values_and_refuses_others() {
        assert_eq!(Simd::parse("native"), Ok(None));
        assert_eq!(Simd::parse(""), Ok(None));
        assert_eq!(Simd::parse("AVX2"), Ok(Some(Simd::Avx2)));
        assert_eq!(Simd::parse(" portable "), Ok(Some(Simd::Portable)));
        assert_eq!(Simd::parse("avx512"), Ok(Some(Simd::Avx512)));
        let error = Simd::parse("neon").unwrap_err();
        assert!(error.contains("native, avx512, avx2, portable"), "{error}");
    }

    #[test]
    fn the_paths_available_end_at_the_detected_one() {
        let paths = Simd::available();
        assert_eq!(paths.first(), Some(&Simd::Portable));
        assert_eq!(paths.last(), Some(&Simd::detected()));
        for (code, path) in [Simd::Portable, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .enumerate()
        {
            assert_eq!(decode(code as u8 + 1), path);
        }
    }
}
