/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MT_LOG_H
#define MT_LOG_H

enum mt_log_level { MT_LOG_ERR, MT_LOG_WARN, MT_LOG_INFO, MT_LOG_DEBUG, MT_LOG_MAX };

void mt_log_set_level(enum mt_log_level level);
enum mt_log_level mt_log_get_level(void);
void mt_log(enum mt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   mt_log(MT_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  mt_log(MT_LOG_WARN, __VA_ARGS__)
#define log_info(...)  mt_log(MT_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mt_log(MT_LOG_DEBUG, __VA_ARGS__)

#endif
