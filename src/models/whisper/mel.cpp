#include "models/whisper/mel.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "core/base/error.h"
#include "core/kernels/thread_pool.h"

namespace pj::whisper {
namespace {

// Slaney's auditory mel scale as librosa implements it (linear below 1 kHz, logarithmic above).
double hz_to_mel(double f) {
  constexpr double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return f >= min_log_hz ? min_log_mel + std::log(f / min_log_hz) / logstep : f / f_sp;
}
double mel_to_hz(double m) {
  constexpr double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return m >= min_log_mel ? min_log_hz * std::exp(logstep * (m - min_log_mel)) : f_sp * m;
}

// A mixed-radix decimation-in-time FFT for n = 400 = 2^4 * 5^2 (any n whose factors are small works).
class Fft {
 public:
  explicit Fft(int n) : n_(n), tw_(size_t(n)) {
    for (int k = 0; k < n; ++k) tw_[size_t(k)] = std::polar(1.0, -2.0 * M_PI * k / n);
    for (int m = n; m > 1;) {
      int p = 2;
      while (m % p) ++p;
      factors_.push_back(p);
      m /= p;
    }
  }
  // out[k] = sum_j in[j * stride] e^{-2 pi i jk/n}
  void run(const std::complex<double>* in, std::complex<double>* out, std::complex<double>* tmp) const {
    rec(in, 1, out, n_, 0, tmp);
  }

 private:
  void rec(const std::complex<double>* in, int stride, std::complex<double>* out, int n, size_t fi,
           std::complex<double>* tmp) const {
    if (n == 1) {
      out[0] = in[0];
      return;
    }
    const int p = factors_[fi], m = n / p;
    // p sub-transforms of length m over the inputs j = r (mod p), stored one after the other in out.
    for (int r = 0; r < p; ++r) rec(in + r * stride, stride * p, out + r * m, m, fi + 1, tmp);
    // Butterflies: X[k + q m] = sum_r W_n^{r (k + q m)} Y_r[k].
    const int tw_step = n_ / n;
    for (int k = 0; k < m; ++k) {
      for (int q = 0; q < p; ++q) {
        std::complex<double> acc = 0;
        for (int r = 0; r < p; ++r) {
          const int e = (r * (k + q * m)) % n;
          acc += out[r * m + k] * tw_[size_t(e) * size_t(tw_step)];
        }
        tmp[k + q * m] = acc;
      }
    }
    std::copy(tmp, tmp + n, out);
  }

  int n_;
  std::vector<std::complex<double>> tw_;
  std::vector<int> factors_;
};

}  // namespace

std::vector<float> mel_filters(int n_mels) {
  if (n_mels <= 0 || n_mels > 512) fail("whisper: bad number of mel bins {}", n_mels);
  const double fmax = kSampleRate / 2.0;
  std::vector<double> mel_f(size_t(n_mels) + 2);
  const double mmin = hz_to_mel(0.0), mmax = hz_to_mel(fmax);
  for (int i = 0; i < n_mels + 2; ++i) mel_f[size_t(i)] = mel_to_hz(mmin + (mmax - mmin) * i / (n_mels + 1));
  std::vector<float> w(size_t(n_mels) * kNFreq);
  for (int i = 0; i < n_mels; ++i) {
    const double enorm = 2.0 / (mel_f[size_t(i) + 2] - mel_f[size_t(i)]);
    const double d0 = mel_f[size_t(i) + 1] - mel_f[size_t(i)], d1 = mel_f[size_t(i) + 2] - mel_f[size_t(i) + 1];
    for (int k = 0; k < kNFreq; ++k) {
      const double f = fmax * k / (kNFreq - 1);
      const double lower = (f - mel_f[size_t(i)]) / d0;
      const double upper = (mel_f[size_t(i) + 2] - f) / d1;
      w[size_t(i) * kNFreq + size_t(k)] = float(std::max(0.0, std::min(lower, upper)) * enorm);
    }
  }
  return w;
}

LogMel log_mel_spectrogram(const float* audio, size_t n, int n_mels, size_t pad_zeros, ThreadPool* pool) {
  const size_t total = n + pad_zeros;
  if (total < size_t(kNFft / 2 + 1)) fail("whisper: audio too short for a spectrogram ({} samples)", total);
  const std::vector<float> filters = mel_filters(n_mels);
  LogMel out;
  out.n_mels = n_mels;
  out.n_frames = int64_t(total / kHop);  // 1 + total / hop centred frames, the last one dropped
  out.data.assign(size_t(n_mels) * size_t(out.n_frames), 0.0f);

  std::vector<double> window(kNFft);
  for (int i = 0; i < kNFft; ++i) window[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / kNFft);
  const Fft fft(kNFft);
  const int64_t len = int64_t(total);
  // Sample i of the padded signal with reflection at both ends (numpy's "reflect": no edge repeat).
  auto sample = [&](int64_t i) -> double {
    while (i < 0 || i >= len) i = i < 0 ? -i : 2 * (len - 1) - i;
    return size_t(i) < n ? double(audio[i]) : 0.0;
  };

  auto frames = [&](int64_t f0, int64_t f1, int) {
    std::vector<std::complex<double>> in(kNFft), spec(kNFft), tmp(kNFft);
    std::vector<double> power(kNFreq);
    for (int64_t t = f0; t < f1; ++t) {
      const int64_t start = t * kHop - kNFft / 2;
      for (int i = 0; i < kNFft; ++i) in[size_t(i)] = sample(start + i) * window[size_t(i)];
      fft.run(in.data(), spec.data(), tmp.data());
      for (int k = 0; k < kNFreq; ++k) power[size_t(k)] = std::norm(spec[size_t(k)]);
      for (int m = 0; m < n_mels; ++m) {
        const float* fr = filters.data() + size_t(m) * kNFreq;
        double acc = 0;
        for (int k = 0; k < kNFreq; ++k) acc += double(fr[k]) * power[size_t(k)];
        out.data[size_t(m) * size_t(out.n_frames) + size_t(t)] = float(std::log10(std::max(acc, 1e-10)));
      }
    }
  };
  if (pool) {
    pool->parallel_for(out.n_frames, [&](int64_t b, int64_t e, int t) { frames(b, e, t); });
  } else {
    frames(0, out.n_frames, 0);
  }
  float mx = -1e30f;
  for (float v : out.data) mx = std::max(mx, v);
  for (float& v : out.data) v = (std::max(v, mx - 8.0f) + 4.0f) / 4.0f;
  return out;
}

std::vector<float> mel_window(const LogMel& mel, int64_t frame0) {
  std::vector<float> w(size_t(mel.n_mels) * kChunkFrames, 0.0f);
  const int64_t avail = std::clamp<int64_t>(mel.n_frames - frame0, 0, kChunkFrames);
  for (int m = 0; m < mel.n_mels; ++m)
    std::copy(mel.row(m) + frame0, mel.row(m) + frame0 + avail, w.data() + size_t(m) * kChunkFrames);
  return w;
}

}  // namespace pj::whisper
