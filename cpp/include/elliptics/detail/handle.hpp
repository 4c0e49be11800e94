// detail/handle.hpp: move-only owners of the library's opaque handles.
#ifndef ELLIPTICS_DETAIL_HANDLE_HPP
#define ELLIPTICS_DETAIL_HANDLE_HPP

#include <elliptics.h>

#include <cstdint>
#include <utility>

namespace ioremap {
namespace elliptics {
namespace detail {

// unique_handle owns one handle of the C ABI (a uint64_t; 0 is never valid)
// and releases it with Traits::release exactly once.
template <typename Traits>
class unique_handle {
public:
	using value_type = std::uint64_t;

	unique_handle() noexcept = default;
	explicit unique_handle(value_type h) noexcept : h_(h) {}
	unique_handle(const unique_handle &) = delete;
	unique_handle &operator=(const unique_handle &) = delete;
	unique_handle(unique_handle &&other) noexcept : h_(std::exchange(other.h_, 0)) {}
	unique_handle &operator=(unique_handle &&other) noexcept {
		if (this != &other)
			reset(std::exchange(other.h_, 0));
		return *this;
	}
	~unique_handle() { reset(); }

	[[nodiscard]] value_type get() const noexcept { return h_; }
	explicit operator bool() const noexcept { return h_ != 0; }

	// Releases the current handle (if any) and takes h.
	void reset(value_type h = 0) noexcept {
		value_type old = std::exchange(h_, h);
		if (old != 0)
			Traits::release(old);
	}

	// Gives up ownership without releasing.
	[[nodiscard]] value_type release() noexcept { return std::exchange(h_, 0); }

private:
	value_type h_ = 0;
};

struct node_traits {
	static void release(ell_node_t h) noexcept { ell_node_close(h); }
};
struct session_traits {
	static void release(ell_session_t h) noexcept { ell_session_free(h); }
};
struct async_traits {
	static void release(ell_async_t h) noexcept { ell_async_free(h); }
};
struct queue_traits {
	static void release(ell_queue_t h) noexcept { ell_queue_free(h); }
};

using node_handle = unique_handle<node_traits>;
using session_handle = unique_handle<session_traits>;
using async_handle = unique_handle<async_traits>;
using queue_handle = unique_handle<queue_traits>;

// route_list_guard frees an ell_route_list filled by ell_node_routes.
class route_list_guard {
public:
	route_list_guard() noexcept = default;
	route_list_guard(const route_list_guard &) = delete;
	route_list_guard &operator=(const route_list_guard &) = delete;
	~route_list_guard() {
		if (filled)
			ell_route_list_free(&list);
	}

	ell_route_list list{};
	bool filled = false;
};

} // namespace detail
} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_DETAIL_HANDLE_HPP
