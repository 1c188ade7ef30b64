//! The model summary of a composite model: one row per field at every
//! depth, with dotted names (the parameter paths), the nesting depth, each
//! row's parameters and multiply-accumulates (a composite's are its
//! fields' totals), and totals that are the compile-time constants.

use sxima::prelude::*;

model! {
    /// A basic residual block (projection shortcut when the shape changes).
    block Basic(c, s) {
        residual(shortcut = auto) {
            conv1: Conv2d(c, kernel = 3, stride = s, padding = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
        },
        ReLU,
    }

    pub Small(input: [2, 8, 8]) {
        stem: Conv2d(4, kernel = 3, padding = 1),
        layer1: repeat 2 { Basic(4, 1) },
        layer2: { Basic(8, 2) },
        se: parallel(mul) {
            _ { }
            _ { AdaptiveAvgPool2d(1), fc: Conv2d(8, kernel = 1), Sigmoid }
        },
        GlobalAvgPool,
        fc: Dense(3),
    }
}

/// `(params, macs)` of a `k`x`k` convolution from `cin` to `cout` channels
/// on an `hw`-pixel output, with or without bias.
fn conv(cin: usize, cout: usize, k: usize, hw: usize, bias: bool) -> (usize, u64) {
    let w = cout * cin * k * k;
    (w + if bias { cout } else { 0 }, (w * hw) as u64)
}

fn row(name: &str) -> LayerSummary {
    *<Small as ModelInfo>::LAYERS
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn rows_carry_dotted_names_depths_params_and_macs() {
    let stem = conv(2, 4, 3, 64, true);
    let block1 = conv(4, 4, 3, 64, false);
    let bn = |c: usize| 2 * c;
    let l2_conv = conv(4, 8, 3, 16, false);
    let l2_proj = conv(4, 8, 1, 16, false);
    let se_fc = conv(8, 8, 1, 1, true);
    let fc = (8 * 3 + 3, 8 * 3u64);

    let r = row("stem");
    assert_eq!((r.depth, r.params, r.macs), (0, stem.0, stem.1));
    assert_eq!(r.output_shape, &[4, 8, 8]);

    let r = row("layer1.1.conv1");
    // The kind is written with the block's arguments substituted.
    assert_eq!(
        (r.depth, r.kind),
        (
            2,
            "Conv2d(4, kernel = 3, stride = 1, padding = 1, bias = false)"
        )
    );
    assert_eq!((r.params, r.macs), block1);
    let r = row("layer1.0");
    assert_eq!(r.depth, 1);
    assert_eq!((r.params, r.macs), (block1.0 + bn(4), block1.1));
    let r = row("layer1");
    assert_eq!((r.depth, r.kind), (0, "repeat 2"));
    assert_eq!((r.params, r.macs), (2 * (block1.0 + bn(4)), 2 * block1.1));

    let r = row("layer2.0.downsample.0");
    assert_eq!((r.depth, r.params, r.macs), (3, l2_proj.0, l2_proj.1));
    let r = row("layer2.0.downsample");
    assert_eq!(r.depth, 2);
    assert_eq!((r.params, r.macs), (l2_proj.0 + bn(8), l2_proj.1));
    let r = row("layer2");
    assert_eq!(r.output_shape, &[8, 4, 4]);
    assert_eq!(
        (r.params, r.macs),
        (l2_conv.0 + bn(8) + l2_proj.0 + bn(8), l2_conv.1 + l2_proj.1)
    );

    // The transparent `_` branches put the gate's layers in `se` itself.
    let r = row("se.fc");
    assert_eq!((r.depth, r.params, r.macs), (1, se_fc.0, se_fc.1));
    assert_eq!(row("se").params, se_fc.0);

    let total_params =
        stem.0 + 2 * (block1.0 + bn(4)) + l2_conv.0 + l2_proj.0 + 2 * bn(8) + se_fc.0 + fc.0;
    let total_macs = stem.1 + 2 * block1.1 + l2_conv.1 + l2_proj.1 + se_fc.1 + fc.1;
    assert_eq!(<Small as ModelInfo>::PARAM_COUNT, total_params);
    assert_eq!(<Small as ModelInfo>::MACS, total_macs);
}

/// Holds for any model: depth-0 rows add up to the totals, and every
/// composite row is the sum of the rows one level below it.
#[test]
fn composite_rows_are_the_sums_of_their_fields() {
    let rows = <Small as ModelInfo>::LAYERS;
    let top = rows.iter().filter(|r| r.depth == 0);
    assert_eq!(
        top.clone().map(|r| r.params).sum::<usize>(),
        <Small as ModelInfo>::PARAM_COUNT
    );
    assert_eq!(top.map(|r| r.macs).sum::<u64>(), <Small as ModelInfo>::MACS);
    let mut composites = 0;
    for (i, r) in rows.iter().enumerate() {
        let children: Vec<&LayerSummary> = rows[i + 1..]
            .iter()
            .take_while(|c| c.depth > r.depth)
            .filter(|c| c.depth == r.depth + 1)
            .collect();
        if children.is_empty() {
            continue;
        }
        composites += 1;
        assert!(
            children
                .iter()
                .all(|c| c.name.starts_with(&format!("{}.", r.name))),
            "{}",
            r.name
        );
        assert_eq!(
            children.iter().map(|c| c.params).sum::<usize>(),
            r.params,
            "{}",
            r.name
        );
        assert_eq!(
            children.iter().map(|c| c.macs).sum::<u64>(),
            r.macs,
            "{}",
            r.name
        );
    }
    // layer1, layer1.0, layer1.1, layer2, layer2.0, layer2.0.downsample, se.
    assert_eq!(composites, 7);
}

#[test]
fn the_table_is_indented_with_totals() {
    let text = Small::<f32, Cpu>::summary().to_string();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} (")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
            .to_string()
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    assert_eq!(indent(&line("layer2")), 0);
    assert_eq!(indent(&line("layer2.0")), 2);
    assert_eq!(indent(&line("layer2.0.downsample.1")), 6);
    assert!(line("stem").contains("(B, 4, 8, 8)"), "{text}");
    let header = text.lines().nth(2).unwrap_or_default();
    assert!(
        header.contains("Params") && header.contains("MACs"),
        "{text}"
    );
    let p = <Small as ModelInfo>::PARAM_COUNT;
    assert!(
        text.contains(&format!(
            "Total params: {}",
            sxima::runtime::model::thousands(p)
        )),
        "{text}"
    );
    let m = <Small as ModelInfo>::MACS as usize;
    assert!(
        text.contains(&format!(
            "Total MACs: {} per sample",
            sxima::runtime::model::thousands(m)
        )),
        "{text}"
    );
}
