// Carrier of the shared precompiled header (cmake/pch.hpp).
