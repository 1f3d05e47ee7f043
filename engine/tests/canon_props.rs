//! Property tests: our canonicalizer is byte-equal to serde_jcs (a reviewed RFC 8785 implementation),
//! digests are stable under re-serialization, and key order of the input never matters.

use gait_engine::canon::{self, ParseOptions};
use proptest::prelude::*;
use serde_json::Value;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-9_007_199_254_740_991i64..9_007_199_254_740_991i64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(canon::number_value),
        "\\PC{0,12}".prop_map(Value::String),
        prop::collection::vec(any::<char>(), 0..6)
            .prop_map(|cs| Value::String(cs.into_iter().collect())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_serde_jcs(v in arb_json()) {
        let ours = canon::jcs_of(&v).unwrap();
        let theirs = serde_jcs::to_vec(&v).unwrap();
        prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
    }

    #[test]
    fn text_and_value_paths_agree(v in arb_json()) {
        let pretty = serde_json::to_vec_pretty(&v).unwrap();
        let (from_text, _) = canon::jcs_bytes(&pretty, ParseOptions::recorded_payload()).unwrap();
        prop_assert_eq!(from_text, canon::jcs_of(&v).unwrap());
    }

    #[test]
    fn canonical_form_is_a_fixed_point(v in arb_json()) {
        let once = canon::jcs_of(&v).unwrap();
        let (twice, _) = canon::jcs_bytes(&once, ParseOptions::recorded_payload()).unwrap();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(canon::sha256_hex(&once), canon::digest_json_bytes(&twice, ParseOptions::recorded_payload()).unwrap());
    }

    #[test]
    fn member_order_does_not_change_the_digest(pairs in prop::collection::btree_map("[a-z]{1,4}", any::<i32>(), 1..8)) {
        let forward: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let backward: Vec<String> = forward.iter().rev().cloned().collect();
        let a = canon::digest_json_bytes(format!("{{{}}}", forward.join(",")).as_bytes(), ParseOptions::default()).unwrap();
        let b = canon::digest_json_bytes(format!("{{{}}}", backward.join(",")).as_bytes(), ParseOptions::default()).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = canon::parse(&bytes, ParseOptions::default());
    }
}

/// DESIGN: `preserve_order` or `arbitrary_precision` arriving through feature unification would change
/// digests silently; this fails if either is on.
#[test]
fn serde_json_features_stay_off() {
    let v: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().next().map(String::as_str),
        Some("a"),
        "preserve_order is enabled"
    );
    let n: Value = serde_json::from_str("1.10").unwrap();
    assert_eq!(n.to_string(), "1.1", "arbitrary_precision is enabled");
    // float_roundtrip must be on: this literal is misread by the default fast path.
    let f: f64 = serde_json::from_str("2.2250738585072011e-308").unwrap();
    assert_eq!(f, "2.2250738585072011e-308".parse::<f64>().unwrap());
}
