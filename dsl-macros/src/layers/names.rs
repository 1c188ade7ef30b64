//! Layer names: "did you mean" for names that are not in the catalogue
//! (Keras and PyTorch spellings, typos, nested models written as calls), and
//! the `snake_case` of generated field names.

use syn::Ident;

use super::KINDS;
use crate::parse::LayerCall;

/// Keras/PyTorch layer names (lower case) and the sxima layer to suggest.
const LAYER_ALIASES: &[(&str, &str)] = &[
    ("globalaveragepooling2d", "GlobalAvgPool"),
    ("globalavgpool2d", "GlobalAvgPool"),
    ("globalmaxpooling2d", "GlobalMaxPool"),
    ("globalmaxpool2d", "GlobalMaxPool"),
    ("batchnormalization", "BatchNorm1d` or `BatchNorm2d"),
    ("batchnorm", "BatchNorm1d` or `BatchNorm2d"),
    ("linear", "Dense"),
    ("fullyconnected", "Dense"),
    ("averagepooling2d", "AvgPool2d"),
    ("avgpool", "AvgPool2d"),
    ("maxpooling2d", "MaxPool2d"),
    ("maxpool", "MaxPool2d"),
    ("conv2dtranspose", "ConvTranspose2d"),
    ("deconv2d", "ConvTranspose2d"),
    ("upsample", "UpSampling2d"),
    ("upsamplingnearest2d", "UpSampling2d"),
    ("upsamplingbilinear2d", "UpSampling2d"),
    ("zeropad2d", "ZeroPadding2d"),
    ("swish", "SiLU"),
    ("localresponsenormalization", "LocalResponseNorm"),
    ("lrn", "LocalResponseNorm"),
];

/// Edit distance, case-insensitive (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest name in `names`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    names
        .into_iter()
        .map(|n| (distance(word, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// The sxima layer a user probably meant by `word`: the same name in other
/// case, a Keras/PyTorch alias, or a close spelling.
pub fn suggestion(word: &str) -> Option<&'static str> {
    let lower = word.to_lowercase();
    let names = || KINDS.iter().map(|k| k.name());
    names()
        .find(|n| n.to_lowercase() == lower)
        .or_else(|| {
            LAYER_ALIASES
                .iter()
                .find(|(alias, _)| *alias == lower)
                .map(|(_, to)| *to)
        })
        .or_else(|| closest(word, names()))
}

/// The error for a call whose name is not a catalogue layer and that cannot
/// be a nested model (it has arguments, or no `-> [..]`); `field` is the
/// field name it would get.
pub fn unknown_layer(call: &LayerCall, field: &str, has_assert: bool) -> syn::Error {
    let word = call.kind.to_string();
    let span = call.kind.span();
    let msg = if word == "Input" || word == "InputLayer" {
        "there is no `Input` layer: declare the input shape on the model, `Net(input: [1, 28, 28]) { .. }`".to_string()
    } else if let Some(s) = suggestion(&word) {
        format!("unknown layer `{word}`; did you mean `{s}`?")
    } else if !word.starts_with(|c: char| c.is_ascii_uppercase()) {
        format!("unknown layer `{word}`; the layers are listed in the docs of `model!`")
    } else if call.args.is_some() {
        let assert = if has_assert { "" } else { " -> [..]" };
        format!(
            "unknown layer `{word}`; a nested model takes no arguments: write `{field}: {word}{assert}`"
        )
    } else {
        format!(
            "unknown layer `{word}`; if it is a model type, give its output shape: `{field}: {word} -> [..]`"
        )
    };
    syn::Error::new(span, msg)
}

/// Whether `ident` may name a nested model (a type from another `model!`).
pub fn may_be_model(ident: &Ident) -> bool {
    let word = ident.to_string();
    word.starts_with(|c: char| c.is_ascii_uppercase()) && suggestion(&word).is_none()
}

/// `snake_case` of a type name for generated field names (`MyEncoder` -> `my_encoder`).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggestion("Dence"), Some("Dense"));
        assert_eq!(suggestion("Relu"), Some("ReLU"));
        assert_eq!(suggestion("ReLu"), Some("ReLU"));
        assert_eq!(suggestion("LeakyRelu"), Some("LeakyReLU"));
        assert_eq!(suggestion("Conv2D"), Some("Conv2d"));
        assert_eq!(suggestion("Conv3d"), Some("Conv2d"));
        assert_eq!(suggestion("Maxpool"), Some("MaxPool2d"));
        assert_eq!(suggestion("MaxPooling2D"), Some("MaxPool2d"));
        assert_eq!(suggestion("AveragePooling2D"), Some("AvgPool2d"));
        assert_eq!(suggestion("AvgPool"), Some("AvgPool2d"));
        assert_eq!(suggestion("GlobalAveragePooling2D"), Some("GlobalAvgPool"));
        assert_eq!(suggestion("Linear"), Some("Dense"));
        assert_eq!(suggestion("Gelu"), Some("GELU"));
        assert_eq!(suggestion("SoftMax"), Some("Softmax"));
        assert_eq!(suggestion("Swish"), Some("SiLU"));
        assert!(suggestion("BatchNormalization")
            .is_some_and(|s| s.contains("BatchNorm1d") && s.contains("BatchNorm2d")));
        assert_eq!(suggestion("Transformer"), None);
        assert_eq!(suggestion("Encoder"), None);
        assert_eq!(closest("strid", ["stride", "padding"]), Some("stride"));
    }

    #[test]
    fn aliases_point_at_real_layers() {
        for (alias, to) in LAYER_ALIASES {
            for name in to.split("` or `") {
                assert!(
                    KINDS.iter().any(|k| k.name() == name),
                    "alias {alias} -> {name}"
                );
            }
            assert_eq!(*alias, alias.to_lowercase());
        }
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("Encoder"), "encoder");
        assert_eq!(snake_case("MyEncoder"), "my_encoder");
        assert_eq!(snake_case("MLPHead"), "mlp_head");
        assert_eq!(snake_case("Net2Net"), "net2_net");
    }
}
