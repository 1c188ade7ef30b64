//! The lecture's long-term-dependency task as generated token data: a fact
//! is stated first and recalled after a gap of filler words,
//! "George lives in Greece . <filler x gap> George speaks fluent ___".
//!
//! Every sentence of a [`FactRecall`] set has the same length
//! [`FactRecall::seq_len`] `= gap + 8` tokens:
//!
//! ```text
//! name lives in country .  filler_1 .. filler_gap  name speaks fluent
//! ```
//!
//! and its answer is the country's language, a class in `0..LANGUAGES`
//! (chance level `1 / LANGUAGES`). The only token that determines the answer
//! is the country at position 3, so a model must carry it across the whole
//! gap. Names, countries and fillers are drawn uniformly from fixed tables
//! with a seeded PRNG, so a set depends only on `(n, gap, seed)`.
//!
//! Tokens index one vocabulary of [`VOCAB`] words ([`word`] spells them):
//! the five structure words, then [`NAMES`], the countries and languages of
//! [`COUNTRIES`], and [`FILLERS`]. The language words are in the vocabulary
//! too ([`language_token`]), so the task also reads as next-token prediction.
//!
//! ```
//! use sxima_runtime::data::fact_recall::{self, FactRecall};
//!
//! let set = FactRecall::generate(4, 3, 7);
//! assert_eq!(set.seq_len(), 3 + 8);
//! let s = set.sentence(0);
//! assert_eq!(fact_recall::word(s[1]), "lives");
//! println!("{} -> {}", set.text(0), fact_recall::COUNTRIES[set.answers()[0]].1);
//! ```

use crate::data::batch::SplitMix64;

/// Countries and their languages (one language per country, all distinct):
/// the answer classes, in this order.
pub const COUNTRIES: [(&str, &str); 12] = [
    ("Greece", "Greek"),
    ("France", "French"),
    ("Germany", "German"),
    ("Italy", "Italian"),
    ("Spain", "Spanish"),
    ("Portugal", "Portuguese"),
    ("Poland", "Polish"),
    ("Sweden", "Swedish"),
    ("Finland", "Finnish"),
    ("Turkey", "Turkish"),
    ("Japan", "Japanese"),
    ("Hungary", "Hungarian"),
];

/// Number of answers (languages); chance level is `1 / LANGUAGES`.
pub const LANGUAGES: usize = COUNTRIES.len();

/// The names a sentence is about.
pub const NAMES: [&str; 16] = [
    "George", "Maria", "Nikos", "Elena", "Hans", "Ingrid", "Pierre", "Sofia", "Marco", "Yuki",
    "Ana", "Lars", "Olga", "Emre", "Piotr", "Aino",
];

/// The words of the gap.
pub const FILLERS: [&str; 24] = [
    "the", "weather", "was", "nice", "and", "we", "went", "to", "market", "on", "a", "sunny",
    "day", "with", "friends", "who", "liked", "long", "walks", "by", "river", "after", "lunch",
    "then",
];

/// The structure words, in token order.
const STRUCTURE: [&str; 5] = ["lives", "in", ".", "speaks", "fluent"];
const LIVES: usize = 0;
const IN: usize = 1;
const STOP: usize = 2;
const SPEAKS: usize = 3;
const FLUENT: usize = 4;
const NAME0: usize = STRUCTURE.len();
const COUNTRY0: usize = NAME0 + NAMES.len();
const LANGUAGE0: usize = COUNTRY0 + LANGUAGES;
const FILLER0: usize = LANGUAGE0 + LANGUAGES;

/// Vocabulary size: every token is `< VOCAB`.
pub const VOCAB: usize = FILLER0 + FILLERS.len();

/// Tokens besides the gap: `name lives in country .` and `name speaks fluent`.
pub const FIXED_TOKENS: usize = 8;

/// Position of the country token (the fact) in every sentence.
pub const FACT_POSITION: usize = 3;

/// The word of token `t` (`"?"` for a token `>= VOCAB`).
pub fn word(t: usize) -> &'static str {
    match t {
        t if t < NAME0 => STRUCTURE[t],
        t if t < COUNTRY0 => NAMES[t - NAME0],
        t if t < LANGUAGE0 => COUNTRIES[t - COUNTRY0].0,
        t if t < FILLER0 => COUNTRIES[t - LANGUAGE0].1,
        t if t < VOCAB => FILLERS[t - FILLER0],
        _ => "?",
    }
}

/// The token of answer class `class` (its language word), for next-token use.
/// `class` must be `< LANGUAGES`.
pub const fn language_token(class: usize) -> usize {
    LANGUAGE0 + class
}

/// A generated set of `len()` sentences with one gap length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactRecall {
    gap: usize,
    /// `len() * seq_len()` tokens, sentence-major.
    tokens: Vec<usize>,
    /// One answer class (`< LANGUAGES`) per sentence.
    answers: Vec<usize>,
}

impl FactRecall {
    /// `n` sentences with `gap` filler words each, deterministic from `seed`.
    pub fn generate(n: usize, gap: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ (gap as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut pick = |k: usize| rng.below(k as u64) as usize;
        let len = gap + FIXED_TOKENS;
        let mut tokens = Vec::with_capacity(n * len);
        let mut answers = Vec::with_capacity(n);
        for _ in 0..n {
            let name = NAME0 + pick(NAMES.len());
            let class = pick(LANGUAGES);
            tokens.extend([name, LIVES, IN, COUNTRY0 + class, STOP]);
            for _ in 0..gap {
                tokens.push(FILLER0 + pick(FILLERS.len()));
            }
            tokens.extend([name, SPEAKS, FLUENT]);
            answers.push(class);
        }
        Self {
            gap,
            tokens,
            answers,
        }
    }

    /// Number of sentences.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether the set has no sentence.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// Number of filler words between the fact and its recall.
    pub fn gap(&self) -> usize {
        self.gap
    }

    /// Tokens per sentence: `gap + FIXED_TOKENS`.
    pub fn seq_len(&self) -> usize {
        self.gap + FIXED_TOKENS
    }

    /// All tokens, sentence-major (`len() * seq_len()`).
    pub fn tokens(&self) -> &[usize] {
        &self.tokens
    }

    /// The answer class (language index into [`COUNTRIES`]) of each sentence.
    pub fn answers(&self) -> &[usize] {
        &self.answers
    }

    /// The tokens of sentence `i` (`i < len()`).
    pub fn sentence(&self, i: usize) -> &[usize] {
        let l = self.seq_len();
        &self.tokens[i * l..(i + 1) * l]
    }

    /// The tokens of the sentences `indices`, concatenated (a batch
    /// `[indices.len(), seq_len()]`), and their answers.
    pub fn gather(&self, indices: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let tokens = indices
            .iter()
            .flat_map(|&i| self.sentence(i).iter().copied())
            .collect();
        let answers = indices.iter().map(|&i| self.answers[i]).collect();
        (tokens, answers)
    }

    /// Sentence `i` as words, e.g. `"George lives in Greece . the .. George speaks fluent"`.
    pub fn text(&self, i: usize) -> String {
        let words: Vec<&str> = self.sentence(i).iter().map(|&t| word(t)).collect();
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_have_the_layout_and_answer_of_their_fact() {
        let set = FactRecall::generate(50, 6, 3);
        assert_eq!((set.len(), set.seq_len(), set.gap()), (50, 14, 6));
        assert_eq!(set.tokens().len(), 50 * 14);
        for i in 0..set.len() {
            let s = set.sentence(i);
            let class = set.answers()[i];
            assert_eq!(word(s[FACT_POSITION]), COUNTRIES[class].0);
            assert_eq!(s[0], s[s.len() - 3], "the same name twice");
            assert!(NAMES.contains(&word(s[0])));
            let words: Vec<&str> = s.iter().map(|&t| word(t)).collect();
            assert_eq!(&words[1..3], ["lives", "in"]);
            assert_eq!(words[4], ".");
            assert_eq!(&words[s.len() - 2..], ["speaks", "fluent"]);
            for w in &words[5..5 + 6] {
                assert!(FILLERS.contains(w), "{w}");
            }
        }
    }

    #[test]
    fn deterministic_from_the_seed_and_gap() {
        assert_eq!(
            FactRecall::generate(20, 5, 1),
            FactRecall::generate(20, 5, 1)
        );
        assert_ne!(
            FactRecall::generate(20, 5, 1).tokens(),
            FactRecall::generate(20, 5, 2).tokens()
        );
        // A set is a prefix of a larger one with the same seed and gap.
        let big = FactRecall::generate(30, 5, 1);
        assert_eq!(
            &big.tokens()[..20 * 13],
            FactRecall::generate(20, 5, 1).tokens()
        );
    }

    #[test]
    fn every_class_and_token_occurs_and_stays_in_the_vocabulary() {
        let set = FactRecall::generate(2000, 10, 9);
        let mut counts = [0usize; LANGUAGES];
        for &a in set.answers() {
            counts[a] += 1;
        }
        // Uniform: each class near 2000 / 12 = 167.
        for (c, &k) in counts.iter().enumerate() {
            assert!((100..240).contains(&k), "class {c}: {k}");
        }
        assert!(set.tokens().iter().all(|&t| t < VOCAB));
        let mut seen = [false; VOCAB];
        for &t in set.tokens() {
            seen[t] = true;
        }
        // Every token but the languages (the answers, never in the input).
        for (t, s) in seen.iter().enumerate() {
            let is_language = (language_token(0)..language_token(LANGUAGES)).contains(&t);
            assert_eq!(*s, !is_language, "token {t} ({})", word(t));
        }
    }

    #[test]
    fn words_spell_the_vocabulary() {
        let words: Vec<&str> = (0..VOCAB).map(word).collect();
        assert_eq!(words[language_token(0)], "Greek");
        assert_eq!(word(VOCAB), "?");
        let set = FactRecall::generate(1, 0, 4);
        let text = set.text(0);
        assert!(text.ends_with("speaks fluent"), "{text}");
        let (tokens, answers) = set.gather(&[0, 0]);
        assert_eq!(tokens.len(), 2 * 8);
        assert_eq!(answers, [set.answers()[0]; 2]);
    }
}
