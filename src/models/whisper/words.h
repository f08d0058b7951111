// Word-level timestamps, as openai/whisper's timing.py (and faster-whisper's transcribe.py) compute
// them: the cross-attention of the alignment heads over a forced decode of the window's text,
// softmax over the window's frames, standardised over the tokens, median-filtered along time (width 7),
// averaged over the heads; dynamic time warping of the text tokens against the encoder frames (20 ms
// each); tokens merged into words (on spaces, or per character for zh/ja/th/lo/my/yue), punctuation
// merged into its neighbour, then the sentence- and segment-boundary clamps of add_word_timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pj::whisper {

class Tokenizer;

struct Word {
  std::string word;  // with its leading space, as whisper prints it
  double start = 0, end = 0;  // seconds
  float probability = 0;      // mean probability of its tokens
  std::vector<int32_t> tokens;
};

// Median over a window of `filter` (odd) values along each of `rows` rows of `width`, the edges
// reflected (torch's mode="reflect"); unchanged when width <= filter / 2.
void median_filter(float* x, int64_t rows, int64_t width, int filter);

// Dynamic time warping of a cost matrix x [n][m] (row-major): the monotonic path from (0, 0) to
// (n-1, m-1) of least total cost, as (row, column) pairs in order (ties as timing.py's dtw_cpu breaks them).
std::vector<std::pair<int, int>> dtw(const std::vector<float>& x, int n, int m);

// Splits tokens into words: (text, tokens) per word. On spaces (a subword starting with a space, a
// special token or punctuation starts a word) unless the language writes without them.
std::vector<std::pair<std::string, std::vector<int32_t>>> split_to_word_tokens(const Tokenizer& tok,
                                                                               const std::vector<int32_t>& tokens,
                                                                               std::string_view language);

// timing.py merge_punctuations with whisper's default sets: "\"'“¿([{-" joins the following word,
// "\"'.。,，!！?？:：”)]}、" the previous one; the emptied entries stay (word "", no tokens).
void merge_punctuations(std::vector<Word>& words);

// timing.py find_alignment after the forward pass. qk [n_heads][n_tok][n_ctx]: the alignment heads'
// scores before the softmax for the tokens sot_sequence (sot_len tokens), <|notimestamps|>,
// text_tokens, <|endoftext|>; logits [n_tok][n_vocab] of the same pass; num_frames: mel frames of
// audio in the window (the softmax runs over num_frames / 2 encoder positions). Times are seconds from
// the window's start. No words for no text.
std::vector<Word> find_alignment(const Tokenizer& tok, std::string_view language, const std::vector<int32_t>& text_tokens,
                                 const std::vector<float>& qk, int n_heads, int n_ctx, int sot_len,
                                 const std::vector<float>& logits, int64_t num_frames, int medfilt_width = 7);

}  // namespace pj::whisper
