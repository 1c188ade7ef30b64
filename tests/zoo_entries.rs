//! `sxima::zoo::ALL`, the zoo's non-generic entry points (each model
//! compiled in its own crate, behind `DynModel`): names are unique and found
//! by `entry`, the boxed model computes what the typed model computes, and a
//! batch of the wrong length is an error naming both lengths.

use sxima::prelude::*;
use sxima::zoo::{DynModel, LeNet5};

#[test]
fn every_entry_is_found_by_its_name_once() {
    for e in sxima::zoo::ALL {
        let found = sxima::zoo::entry(e.name).expect("entry by its own name");
        assert!(std::ptr::eq(found, e), "two entries named {}", e.name);
    }
    assert!(sxima::zoo::entry("resnet51").is_none());
}

#[test]
fn the_boxed_model_matches_the_typed_model() -> sxima::Result<()> {
    let entry = sxima::zoo::entry("lenet5").expect("lenet5 in ALL");
    // The same seed gives the same weights to both.
    let typed = <LeNet5 as Model<f32, Cpu>>::try_build(&Cpu::seed_from_u64(3))?;
    let boxed: Box<dyn DynModel<f32, Cpu>> = (entry.build)(&Cpu::seed_from_u64(3))?;
    assert_eq!(boxed.name(), <LeNet5 as ModelInfo>::NAME);
    assert_eq!(
        boxed.sample_input_shape(),
        <LeNet5 as ModelInfo>::INPUT_SHAPE
    );
    assert_eq!(
        boxed.sample_output_shape(),
        <LeNet5 as ModelInfo>::OUTPUT_SHAPE
    );
    assert_eq!(boxed.param_count(), <LeNet5 as ModelInfo>::PARAM_COUNT);
    assert_eq!(boxed.macs(), <LeNet5 as ModelInfo>::MACS);

    let dev = Cpu::seed_from_u64(7);
    let batch = 3;
    let x = dev.sample_normal_like(&<LeNet5 as Model<f32, Cpu>>::input_shape(batch));
    let want = typed.try_forward(x.clone())?.as_vec();
    let flat = dev.tensor_from_vec(x.as_vec(), (x.shape().num_elements(),));
    let got = boxed.try_forward_flat(flat)?;
    assert_eq!(got.shape().0, batch * 10);
    assert_eq!(got.as_vec(), want);
    Ok(())
}

#[test]
fn a_partial_sample_is_a_data_error() -> sxima::Result<()> {
    let entry = sxima::zoo::entry("lenet5").expect("lenet5 in ALL");
    let dev = Cpu::seed_from_u64(0);
    let model = (entry.build)(&dev)?;
    let per_sample: usize = model.sample_input_shape().iter().product();
    let x = dev.zeros_like(&(per_sample + 1,));
    match model.try_forward_flat(x) {
        Err(Error::DataFormat {
            expected, found, ..
        }) => {
            assert!(expected.contains(&per_sample.to_string()), "{expected}");
            assert!(found.contains(&(per_sample + 1).to_string()), "{found}");
        }
        other => panic!(
            "expected a data error, got {:?}",
            other.map(|t| t.shape().0)
        ),
    }
    Ok(())
}
