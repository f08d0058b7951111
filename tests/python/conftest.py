"""Shared pytest set-up.

llama.cpp (llama-cpp-python) is our outside judge. This VM's CPU reports AMX in CPUID but the VM does
not grant the tile state, and llama.cpp's AMX matmul then segfaults on quantized weights (Q4_0, Q4_1,
K-quants). Loading models without "extra buffer types" (AMX and repacked weight layouts) keeps llama.cpp
on its ordinary CPU kernels, whose results are the same; every test that imports llama_cpp gets this.
"""
try:
    import llama_cpp
    import llama_cpp.llama

    _default_params = llama_cpp.llama_model_default_params

    def _params_without_extra_bufts():
        p = _default_params()
        p.use_extra_bufts = False
        return p

    llama_cpp.llama_model_default_params = _params_without_extra_bufts
    llama_cpp.llama.llama_cpp.llama_model_default_params = _params_without_extra_bufts
except ImportError:  # the tests that need it skip themselves
    pass
