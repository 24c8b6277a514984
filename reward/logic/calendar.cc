// Family "calendar": proleptic Gregorian date arithmetic. Two questions:
//   {"question": "weekday", "date": "Y-M-D"}            answer: the English weekday name (any case)
//   {"question": "days_between", "from": "Y-M-D", "to": "Y-M-D"}
//                                                        answer: the signed day count to - from
// Dates are YYYY-MM-DD with years 0001..9999. The checker recomputes the answer from the dates.
#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

// Sunday first: day 0 of the civil count (1970-01-01) is a Thursday, index 4.
constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

struct Date {
  int64_t year = 1;
  int64_t month = 1;
  int64_t day = 1;
};

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  constexpr std::array<int64_t, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

// Days since 1970-01-01 (H. Hinnant's days_from_civil), valid for years >= 1.
int64_t DaysFromCivil(const Date& d) {
  const int64_t y = d.month <= 2 ? d.year - 1 : d.year;
  const int64_t era = y / 400;  // y >= 0 here
  const int64_t yoe = y - era * 400;
  const int64_t mp = (d.month + 9) % 12;  // March = 0
  const int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t WeekdayIndex(const Date& d) { return ((DaysFromCivil(d) + 4) % 7 + 7) % 7; }

std::string Render(const Date& d) { return absl::StrFormat("%04d-%02d-%02d", d.year, d.month, d.day); }

// instance.<field>: a valid "YYYY-MM-DD" date.
absl::StatusOr<Date> GetDate(const nlohmann::json& instance, std::string_view field) {
  absl::StatusOr<std::string> s = GetString(instance, field, 10);
  if (!s.ok()) return s.status();
  auto error = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.", std::string(field), ": '", *s, "' ", std::string(why)));
  };
  if (s->size() != 10 || (*s)[4] != '-' || (*s)[7] != '-') return error("is not YYYY-MM-DD");
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (std::isdigit(static_cast<unsigned char>((*s)[i])) == 0) return error("is not YYYY-MM-DD");
  }
  Date d;
  d.year = std::stoll(s->substr(0, 4));
  d.month = std::stoll(s->substr(5, 2));
  d.day = std::stoll(s->substr(8, 2));
  if (d.year < 1) return error("is before year 1");
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > DaysInMonth(d.year, d.month)) {
    return error("is not a valid date");
  }
  return d;
}

Date RandomDate(Rng& rng, int64_t first_year, int64_t last_year) {
  Date d;
  d.year = rng.Uniform(first_year, last_year);
  d.month = rng.Uniform(1, 12);
  d.day = rng.Uniform(1, DaysInMonth(d.year, d.month));
  return d;
}

// d plus n >= 0 days, stepping one day at a time (n is at most 20000 here).
Date AddDays(Date d, int64_t n) {
  for (; n > 0; --n) {
    if (++d.day > DaysInMonth(d.year, d.month)) {
      d.day = 1;
      if (++d.month > 12) {
        d.month = 1;
        ++d.year;
      }
    }
  }
  return d;
}

class CalendarFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "calendar"; }
  std::string_view difficulty_help() const override {
    return "weekday or days_between (coin flip); dates in years 2000-40*difficulty..2000+10*difficulty "
           "(1960..2100 at 10); days_between spans up to 20*difficulty^3 days (20..20000)";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t d = difficulty;
    const Date a = RandomDate(rng, 2000 - 40 * d, 2000 + 10 * d);
    GeneratedInstance g;
    if (rng.Bernoulli(1, 2)) {
      g.instance = {{"question", "weekday"}, {"date", Render(a)}};
      g.prompt = absl::StrCat("On which day of the week does ", Render(a),
                              " (YYYY-MM-DD, proleptic Gregorian calendar) fall? Answer with the English "
                              "weekday name (e.g. Monday) inside <answer></answer>.");
      g.witness = kWeekdays[static_cast<size_t>(WeekdayIndex(a))];
      return g;
    }
    const int64_t span = rng.Uniform(1, 20 * d * d * d);
    const Date b = AddDays(a, span);
    g.instance = {{"question", "days_between"}, {"from", Render(a)}, {"to", Render(b)}};
    g.prompt = absl::StrCat("How many days are there from ", Render(a), " to ", Render(b),
                            " (YYYY-MM-DD, proleptic Gregorian calendar)? Count the difference: "
                            "from 2024-01-01 to 2024-01-03 is 2. Answer with the integer only inside "
                            "<answer></answer>.");
    g.witness = std::to_string(DaysFromCivil(b) - DaysFromCivil(a));
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::string> question = GetString(instance, "question", 32);
    if (!question.ok()) return question.status();
    if (*question == "weekday") {
      absl::StatusOr<Date> date = GetDate(instance, "date");
      if (!date.ok()) return date.status();
      return CheckWeekday(*date, answer);
    }
    if (*question == "days_between") {
      absl::StatusOr<Date> from = GetDate(instance, "from");
      if (!from.ok()) return from.status();
      absl::StatusOr<Date> to = GetDate(instance, "to");
      if (!to.ok()) return to.status();
      return CheckDaysBetween(*from, *to, answer);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("instance.question: expected \"weekday\" or "
                     "\"days_between\", got \"",
                     *question, "\""));
  }

 private:
  static CheckResult CheckWeekday(const Date& date, std::string_view answer) {
    const std::string given = absl::AsciiStrToLower(std::string(TrimSpace(answer)));
    std::optional<size_t> index;
    for (size_t i = 0; i < kWeekdays.size(); ++i) {
      if (given == absl::AsciiStrToLower(kWeekdays[i])) index = i;
    }
    if (!index) return Unparseable("expected an English weekday name (Monday..Sunday)");
    const size_t want = static_cast<size_t>(WeekdayIndex(date));
    if (*index != want) {
      return Incorrect(absl::StrCat(Render(date), " is not a ", kWeekdays[*index]), kWeekdays[*index]);
    }
    return Correct(kWeekdays[*index]);
  }

  static CheckResult CheckDaysBetween(const Date& from, const Date& to, std::string_view answer) {
    const std::string_view s = TrimSpace(answer);
    int64_t given = 0;
    const bool digits_only =
        !s.empty() && s.size() <= 19 &&
        s.find_first_not_of("0123456789", s[0] == '-' || s[0] == '+' ? 1 : 0) == std::string_view::npos;
    if (!digits_only || !absl::SimpleAtoi(std::string(s), &given)) {
      return Unparseable("expected an integer number of days");
    }
    const int64_t want = DaysFromCivil(to) - DaysFromCivil(from);
    if (given != want) {
      return Incorrect(absl::StrCat("from ", Render(from), " to ", Render(to), " is not ", given, " days"),
                       std::to_string(given));
    }
    return Correct(std::to_string(given));
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewCalendarFamily() { return std::make_unique<CalendarFamily>(); }

}  // namespace m1rl::reward::logic::internal
