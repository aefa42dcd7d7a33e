//! `embedd eval sts`: the STS Benchmark, Spearman correlation of cosine similarity with gold scores.

use anyhow::{bail, Context};
use embedd_core::vector::cosine;

use crate::cli::StsArgs;
use crate::setup;

/// Embed both sides of every pair and report Spearman x100.
pub async fn sts(args: StsArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut pairs = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let [a, b, score] = fields[..] else {
            bail!(
                "{}:{}: expected sentence1<TAB>sentence2<TAB>score",
                args.file.display(),
                number + 1
            );
        };
        let score: f64 = score
            .trim()
            .parse()
            .with_context(|| format!("{}:{}: score", args.file.display(), number + 1))?;
        pairs.push((a.to_owned(), b.to_owned(), score));
    }
    if pairs.len() < 2 {
        bail!("{} has fewer than two pairs", args.file.display());
    }
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let name = setup::model_name(&registry, args.model.as_deref())?;
    let model = registry.get_or_create(&name).await?;
    let texts: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(args.batch.max(1)) {
        vectors.extend(model.encode(chunk, &Default::default()).await?.vectors);
    }
    let predicted: Vec<f64> = vectors
        .chunks_exact(2)
        .map(|p| cosine(&p[0], &p[1]))
        .collect();
    let gold: Vec<f64> = pairs.iter().map(|p| p.2).collect();
    let rho = spearman(&predicted, &gold) * 100.0;
    if args.json {
        say!(
            "{}",
            serde_json::json!({"model": name, "pairs": pairs.len(), "spearman": rho})
        );
    } else {
        say!(
            "{name}: Spearman x100 = {rho:.2} over {} pairs",
            pairs.len()
        );
    }
    registry.close_all().await;
    Ok(())
}

/// Spearman rank correlation: Pearson correlation of the ranks, ties given their average rank.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut out = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            out[i] = average;
        }
        start = end + 1;
    }
    out
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va.sqrt() * vb.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
    }

    #[test]
    fn spearman_matches_known_values() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233
        assert!(
            (spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0])
                - 0.820_782_681_668_123_3)
                .abs()
                < 1e-12
        );
    }
}
