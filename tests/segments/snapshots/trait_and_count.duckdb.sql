WITH "t7" AS (
  SELECT
    "t4"."id_type",
    "t4"."id_value",
    MIN("t4"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
      AND "t2"."id_type" IN ('anonymous_id', 'device_id', 'marketplace_buyer_id', 'user_id', 'wechat_openid')
  ) AS "t4"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t0"."profile_id"
    FROM "profiles" AS "t0"
    WHERE
      "t0"."rfm_segment" IN ('champions', 'loyal customers')
  ) AS "t3"
  INTERSECT
  SELECT
    *
  FROM (
    SELECT
      "t17"."profile_id"
    FROM (
      SELECT
        "t16"."profile_id",
        COUNT(*) AS "value"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            COALESCE("t12"."profile_id", "t13"."profile_id", "t14"."profile_id") AS "profile_id"
          FROM (
            SELECT
              "t1"."source",
              "t1"."user_id",
              "t1"."anonymous_id",
              "t1"."context_device_id",
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts"
            FROM "events" AS "t1"
            WHERE
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
              AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= (
                MAKE_TIMESTAMP(2026, 6, 1, 12, 0, 0.0) - INTERVAL '30' DAY
              )
              AND (
                (
                  "t1"."timestamp" IS NULL
                )
                OR (
                  "t1"."timestamp" >= (
                    MAKE_TIMESTAMP(2026, 6, 1, 12, 0, 0.0) - INTERVAL '30' DAY
                  )
                )
              )
              AND "t1"."event" IN ('Order Completed')
          ) AS "t6"
          LEFT OUTER JOIN (
            SELECT
              *
            FROM "t7" AS "t8"
            WHERE
              "t8"."id_type" IN ('marketplace_buyer_id', 'user_id')
          ) AS "t12"
            ON CASE
              WHEN "t6"."source" = 'tmall'
              THEN 'marketplace_buyer_id'
              ELSE CASE WHEN "t6"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
            END = "t12"."id_type"
            AND TRIM("t6"."user_id", ' 	
') = "t12"."id_value"
          LEFT OUTER JOIN (
            SELECT
              *
            FROM "t7" AS "t8"
            WHERE
              "t8"."id_type" IN ('anonymous_id', 'wechat_openid')
          ) AS "t13"
            ON CASE WHEN "t6"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t13"."id_type"
            AND TRIM("t6"."anonymous_id", ' 	
') = "t13"."id_value"
          LEFT OUTER JOIN (
            SELECT
              *
            FROM "t7" AS "t8"
            WHERE
              "t8"."id_type" = 'device_id'
          ) AS "t14"
            ON TRIM("t6"."context_device_id", ' 	
') = "t14"."id_value"
        ) AS "t15"
        WHERE
          "t15"."profile_id" IS NOT NULL
      ) AS "t16"
      GROUP BY
        1
    ) AS "t17"
    WHERE
      "t17"."value" >= 2
  ) AS "t18"
) AS "t19"
