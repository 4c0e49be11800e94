// async_result.hpp: one data call in flight or done.
//
// Every data call of a session returns an async_result at once. Its result
// can be taken in four ways, alone or together:
//   - get() (or get_one()) waits and returns the entries, throwing
//     elliptics::error when the call failed per the session's checker;
//   - iteration (range-for) yields entries as they arrive, and throws at the
//     end when the call failed;
//   - connect(on_entry, on_final) runs handlers when the call completes, on a
//     library thread (or at once, on the caller's thread, if it already has);
//   - to_future() gives a std::future of the entries.
// Handlers and futures work even when the async_result is destroyed first:
// the operation's state is shared and lives until its completion callback
// has run, so `s.write_data(k, d).connect(...)` is fine.
#ifndef ELLIPTICS_ASYNC_RESULT_HPP
#define ELLIPTICS_ASYNC_RESULT_HPP

#include <elliptics.h>
#include <elliptics/detail/handle.hpp>
#include <elliptics/error.hpp>
#include <elliptics/result_entry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ioremap {
namespace elliptics {

namespace detail {

// The shared state of one operation. Owned by its async_result (and its
// iterators) and, until the completion callback has run, by itself (self):
// it is the callback's userdata, so it must outlive the async_result when
// the result is dropped early. The handle is freed with the last owner.
struct async_state {
	std::mutex mu;
	async_handle handle;                                  // set once the call returned
	bool completed = false;                               // the completion callback ran
	std::vector<std::function<void(ell_async_t)>> listeners; // run by the callback
	std::shared_ptr<async_state> self;                    // dropped by the callback
};

// The entries and the verdict of a completed operation.
struct outcome {
	std::vector<result_entry> entries;
	error_info error;
};

inline error_info status_of(ell_async_t a) {
	ell_error err{};
	std::int32_t rc = ell_async_status(a, &err);
	if (rc == ELL_OK)
		return error_info();
	std::string message = message_of(err);
	if (message.empty())
		message = status_message(rc);
	return error_info(rc, std::move(message));
}

inline outcome collect(ell_async_t a) {
	outcome o;
	std::size_t n = ell_async_count(a);
	o.entries.reserve(n);
	for (std::size_t i = 0; i < n; ++i) {
		const ell_entry *e = ell_async_entry(a, i);
		if (e != nullptr)
			o.entries.emplace_back(*e);
	}
	o.error = status_of(a);
	return o;
}

// The completion callback of every call (userdata: its async_state). It runs
// the listeners, then drops the state's reference to itself.
extern "C" inline void ioremap_elliptics_cpp_on_complete(ell_async_t a, void *userdata) noexcept {
	auto *st = static_cast<async_state *>(userdata);
	std::shared_ptr<async_state> keep;
	std::vector<std::function<void(ell_async_t)>> listeners;
	{
		std::lock_guard<std::mutex> lock(st->mu);
		st->completed = true;
		listeners.swap(st->listeners);
		keep = std::move(st->self);
	}
	for (auto &listener : listeners) {
		try {
			listener(a);
		} catch (...) {
			// Nothing may unwind into the library: handler exceptions are dropped.
		}
	}
}

} // namespace detail

// async_result owns one operation (its ell_async_t). Move-only; a
// default-constructed or moved-from async_result is invalid (valid() false)
// and its other calls throw std::logic_error.
class [[nodiscard]] async_result {
public:
	using entry_handler = std::function<void(const result_entry &)>;
	using final_handler = std::function<void(const error_info &)>;
	using result_handler = std::function<void(const std::vector<result_entry> &, const error_info &)>;

	// An input iterator over the entries as they arrive (ell_async_next).
	// Reaching the end of a failed call throws its error.
	class iterator {
	public:
		using iterator_category = std::input_iterator_tag;
		using value_type = result_entry;
		using difference_type = std::ptrdiff_t;
		using pointer = const result_entry *;
		using reference = const result_entry &;

		// The end.
		iterator() noexcept = default;

		reference operator*() const noexcept { return entry_; }
		pointer operator->() const noexcept { return &entry_; }
		iterator &operator++() {
			++index_;
			fetch();
			return *this;
		}
		iterator operator++(int) {
			iterator old = *this;
			++*this;
			return old;
		}

		friend bool operator==(const iterator &a, const iterator &b) noexcept {
			return a.state_ == b.state_ && (a.state_ == nullptr || a.index_ == b.index_);
		}
		friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }

	private:
		friend class async_result;
		explicit iterator(std::shared_ptr<detail::async_state> state) : state_(std::move(state)) { fetch(); }

		void fetch() {
			if (state_ == nullptr)
				return;
			ell_async_t h = state_->handle.get();
			const ell_entry *e = nullptr;
			ell_error err{};
			std::int32_t rc = ell_async_next(h, index_, -1, &e, &err);
			if (rc == ELL_OK && e != nullptr) {
				entry_ = result_entry(*e);
				return;
			}
			state_.reset(); // the end
			entry_ = result_entry();
			if (rc == ELL_ENOENT)
				detail::status_of(h).throw_if_error();
			else
				detail::check(rc == ELL_OK ? ELL_EPROTO : rc, err);
		}

		std::shared_ptr<detail::async_state> state_;
		std::size_t index_ = 0;
		result_entry entry_;
	};

	async_result() noexcept = default;
	async_result(const async_result &) = delete;
	async_result &operator=(const async_result &) = delete;
	async_result(async_result &&) noexcept = default;
	async_result &operator=(async_result &&) noexcept = default;
	~async_result() = default;

	[[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

	// Blocks until the operation completes (successfully or not).
	void wait() const { wait_handle(-1); }
	// Blocks at most timeout; true if the operation completed.
	bool wait_for(std::chrono::milliseconds timeout) const { return wait_handle(timeout.count() < 0 ? 0 : timeout.count()); }
	// True once the operation completed.
	[[nodiscard]] bool ready() const { return ell_async_ready(handle()) == 1; }

	// Waits, then returns the verdict of the whole call (code 0: success).
	[[nodiscard]] error_info error() const {
		wait();
		return detail::status_of(handle());
	}

	// Waits, then returns every entry (per the session's filter); throws
	// elliptics::error (not_found_error, timeout_error, ...) when the call
	// failed per the session's checker. Not [[nodiscard]]: a bare `.get()`
	// is the idiom for "wait, and throw if it failed".
	std::vector<result_entry> get() const {
		wait();
		detail::outcome o = detail::collect(handle());
		o.error.throw_if_error();
		return std::move(o.entries);
	}

	// get(), and its first entry; not_found_error when there is none.
	result_entry get_one() const {
		std::vector<result_entry> entries = get();
		if (entries.empty())
			throw not_found_error("the result has no entries");
		return std::move(entries.front());
	}

	// Entries arrived so far.
	[[nodiscard]] std::size_t count() const { return ell_async_count(handle()); }
	// Time from the call to completion (so far, if still running).
	[[nodiscard]] std::chrono::microseconds elapsed() const {
		return std::chrono::microseconds(ell_async_elapsed_us(handle()));
	}

	[[nodiscard]] iterator begin() const { return iterator(checked_state()); }
	[[nodiscard]] iterator end() const noexcept { return iterator(); }

	// Calls on_entry for every entry, then on_final with the verdict, once
	// the operation completed: on a library thread (keep handlers short and
	// never wait on another operation there), or right away on this thread
	// if it already has. Either handler may be empty. Exceptions thrown by
	// handlers on a library thread are dropped.
	void connect(entry_handler on_entry, final_handler on_final) {
		add_listener([on_entry = std::move(on_entry), on_final = std::move(on_final)](ell_async_t a) {
			detail::outcome o = detail::collect(a);
			if (on_entry)
				for (const result_entry &e : o.entries)
					on_entry(e);
			if (on_final)
				on_final(o.error);
		});
	}

	// Calls on_done with every entry and the verdict, as connect above.
	void connect(result_handler on_done) {
		add_listener([on_done = std::move(on_done)](ell_async_t a) {
			detail::outcome o = detail::collect(a);
			if (on_done)
				on_done(o.entries, o.error);
		});
	}

	// A future of get(): the entries, or the exception get() would throw.
	[[nodiscard]] std::future<std::vector<result_entry>> to_future() {
		auto promise = std::make_shared<std::promise<std::vector<result_entry>>>();
		std::future<std::vector<result_entry>> future = promise->get_future();
		add_listener([promise](ell_async_t a) {
			try {
				detail::outcome o = detail::collect(a);
				if (o.error)
					promise->set_exception(detail::make_exception(o.error.code, o.error.message));
				else
					promise->set_value(std::move(o.entries));
			} catch (...) {
				promise->set_exception(std::current_exception());
			}
		});
		return future;
	}

	// The C handle, still owned by this object.
	[[nodiscard]] ell_async_t native_handle() const { return handle(); }

private:
	friend class session;

	explicit async_result(std::shared_ptr<detail::async_state> state) noexcept : state_(std::move(state)) {}

	// Starts a call: start(done, out, err) is one ell_session_* data call.
	template <typename Start>
	static async_result start(Start &&start) {
		auto state = std::make_shared<detail::async_state>();
		state->self = state;
		ell_completion done{};
		done.callback = &detail::ioremap_elliptics_cpp_on_complete;
		done.userdata = state.get();
		ell_async_t out = 0;
		ell_error err{};
		std::int32_t rc = std::forward<Start>(start)(&done, &out, &err);
		{
			std::lock_guard<std::mutex> lock(state->mu);
			if (rc != ELL_OK || out == 0)
				state->self.reset(); // no callback is coming
			else
				state->handle.reset(out);
		}
		if (rc != ELL_OK)
			detail::check(rc, err);
		if (out == 0)
			throw std::logic_error("elliptics: a data call returned no handle");
		return async_result(std::move(state));
	}

	const std::shared_ptr<detail::async_state> &checked_state() const {
		if (state_ == nullptr)
			throw std::logic_error("elliptics::async_result: no operation (moved from or default-constructed)");
		return state_;
	}
	ell_async_t handle() const { return checked_state()->handle.get(); }

	bool wait_handle(std::int64_t timeout_ms) const {
		ell_error err{};
		std::int32_t rc = ell_async_wait(handle(), timeout_ms, &err);
		if (rc == ELL_ETIMEDOUT)
			return false;
		detail::check(rc, err);
		return true;
	}

	// Runs listener(handle) once the completion callback has run (now, if it
	// has).
	void add_listener(std::function<void(ell_async_t)> listener) {
		const std::shared_ptr<detail::async_state> &st = checked_state();
		std::unique_lock<std::mutex> lock(st->mu);
		if (!st->completed) {
			st->listeners.push_back(std::move(listener));
			return;
		}
		ell_async_t h = st->handle.get();
		lock.unlock();
		listener(h);
	}

	std::shared_ptr<detail::async_state> state_;
};

} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_ASYNC_RESULT_HPP
