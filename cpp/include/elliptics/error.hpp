// error.hpp: status codes as exceptions.
//
// Every failure of the library is thrown as elliptics::error, a
// std::system_error whose code() is the ELL_E* status (a negative errno
// value) in the "elliptics" error category. Two codes have their own
// subclasses: not_found_error (ELL_ENOENT, -2) and timeout_error
// (ELL_ETIMEDOUT, -110).
#ifndef ELLIPTICS_ERROR_HPP
#define ELLIPTICS_ERROR_HPP

#include <elliptics.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace ioremap {
namespace elliptics {

namespace detail {

class elliptics_category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "elliptics"; }

	std::string message(int code) const override {
		const char *m = ell_strerror(static_cast<std::int32_t>(code));
		if (m == nullptr || *m == '\0')
			return "unknown error " + std::to_string(code);
		return m;
	}

	// Codes are negative errno values: -ENOENT compares equal to
	// std::errc::no_such_file_or_directory, and so on.
	std::error_condition default_error_condition(int code) const noexcept override {
		if (code < 0)
			return std::error_condition(-code, std::generic_category());
		return std::error_condition(code, *this);
	}
};

} // namespace detail

// The "elliptics" error category: values are ELL_* status codes.
inline const std::error_category &elliptics_category() noexcept {
	static const detail::elliptics_category_impl category;
	return category;
}

// An error_code of the elliptics category.
inline std::error_code make_error_code(int status) noexcept {
	return std::error_code(status, elliptics_category());
}

// The library's short description of a status code ("no such key").
inline std::string status_message(int status) {
	return elliptics_category().message(status);
}

// A failed call: code() is the status (ELL_E*), message() the library's
// message for this failure (may be longer than the category's description).
class error : public std::system_error {
public:
	error(int status, const std::string &message)
		: std::system_error(make_error_code(status), describe(status, message)),
		  message_(message.empty() ? status_message(status) : message) {}
	explicit error(int status) : error(status, std::string()) {}

	// The ELL_E* status code (negative).
	[[nodiscard]] int status() const noexcept { return code().value(); }
	// The library's message, or the code's description when it gave none.
	[[nodiscard]] const std::string &message() const noexcept { return message_; }

private:
	// what() is "message: description" unless they are the same.
	static std::string describe(int status, const std::string &message) {
		if (message.empty() || message == status_message(status))
			return std::string();
		return message;
	}

	std::string message_;
};

// A key is not there (ELL_ENOENT, -2).
class not_found_error : public error {
public:
	explicit not_found_error(const std::string &message = std::string()) : error(ELL_ENOENT, message) {}
};

// No reply within the deadline (ELL_ETIMEDOUT, -110).
class timeout_error : public error {
public:
	explicit timeout_error(const std::string &message = std::string()) : error(ELL_ETIMEDOUT, message) {}
};

// The outcome of a whole call: code 0 on success, else a status and message.
struct error_info {
	int code = 0;
	std::string message;

	error_info() = default;
	error_info(int c, std::string m) : code(c), message(std::move(m)) {}

	// True when the call failed.
	explicit operator bool() const noexcept { return code != 0; }
	[[nodiscard]] bool ok() const noexcept { return code == 0; }

	// Throws the matching exception when code != 0.
	void throw_if_error() const;
};

namespace detail {

// Throws the exception class matching status.
[[noreturn]] inline void throw_status(int status, const std::string &message) {
	switch (status) {
	case ELL_ENOENT:
		throw not_found_error(message);
	case ELL_ETIMEDOUT:
		throw timeout_error(message);
	default:
		throw error(status, message);
	}
}

// The message of an ell_error (NUL-terminated, or filling the array).
inline std::string message_of(const ell_error &err) {
	const void *nul = std::memchr(err.message, '\0', sizeof(err.message));
	std::size_t len = nul != nullptr ? static_cast<std::size_t>(static_cast<const char *>(nul) - err.message)
					 : sizeof(err.message);
	return std::string(err.message, len);
}

// Throws for a failed C call (status != ELL_OK) with the message in err.
inline void check(std::int32_t status, const ell_error &err) {
	if (status != ELL_OK)
		throw_status(status, message_of(err));
}

// A std::exception_ptr holding the exception for status.
inline std::exception_ptr make_exception(int status, const std::string &message) {
	switch (status) {
	case ELL_ENOENT:
		return std::make_exception_ptr(not_found_error(message));
	case ELL_ETIMEDOUT:
		return std::make_exception_ptr(timeout_error(message));
	default:
		return std::make_exception_ptr(error(status, message));
	}
}

} // namespace detail

inline void error_info::throw_if_error() const {
	if (code != 0)
		detail::throw_status(code, message);
}

// "ok", or the message (the library's messages end with the code already).
inline std::ostream &operator<<(std::ostream &os, const error_info &e) {
	if (e.code == 0)
		return os << "ok";
	if (e.message.empty())
		return os << status_message(e.code) << " (" << e.code << ")";
	return os << e.message;
}

} // namespace elliptics
} // namespace ioremap

#endif // ELLIPTICS_ERROR_HPP
