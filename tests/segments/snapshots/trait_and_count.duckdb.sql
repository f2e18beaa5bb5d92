WITH "t7" AS (
  SELECT
    "t3"."id_type",
    "t3"."id_value",
    MIN("t3"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
  ) AS "t3"
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
      COALESCE(COALESCE("t0"."rfm_segment" IN ('champions', 'loyal customers'), FALSE), FALSE)
  ) AS "t4"
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
          COALESCE("t15"."_up", "t15"."_ap", "t15"."_dp") AS "profile_id",
          "t15"."ts",
          "t15"."event",
          COALESCE("t15"."channel", "t15"."source") AS "channel",
          "t15"."source",
          "t15"."properties"
        FROM (
          SELECT
            "t6"."event",
            "t6"."source",
            "t6"."channel",
            "t6"."properties",
            "t6"."user_id",
            "t6"."anonymous_id",
            "t6"."context_device_id",
            "t6"."ts",
            "t6"."_user_type",
            "t6"."_anon_type",
            "t12"."_ut",
            "t12"."_uv",
            "t12"."_up",
            "t13"."_at",
            "t13"."_av",
            "t13"."_ap",
            "t14"."_dv",
            "t14"."_dp"
          FROM (
            SELECT
              "t1"."event",
              "t1"."source",
              "t1"."channel",
              "t1"."properties",
              "t1"."user_id",
              "t1"."anonymous_id",
              "t1"."context_device_id",
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts",
              CASE
                WHEN "t1"."source" = 'tmall'
                THEN 'marketplace_buyer_id'
                ELSE CASE WHEN "t1"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
              END AS "_user_type",
              CASE WHEN "t1"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
            FROM "events" AS "t1"
            WHERE
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
              AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= MAKE_TIMESTAMP(2026, 5, 2, 12, 0, 0.0)
              AND "t1"."event" IN ('Order Completed')
          ) AS "t6"
          LEFT OUTER JOIN (
            SELECT
              "t8"."id_type" AS "_ut",
              "t8"."id_value" AS "_uv",
              "t8"."profile_id" AS "_up"
            FROM "t7" AS "t8"
          ) AS "t12"
            ON "t6"."_user_type" = "t12"."_ut"
            AND TRIM("t6"."user_id", ' 	
') = "t12"."_uv"
          LEFT OUTER JOIN (
            SELECT
              "t8"."id_type" AS "_at",
              "t8"."id_value" AS "_av",
              "t8"."profile_id" AS "_ap"
            FROM "t7" AS "t8"
          ) AS "t13"
            ON "t6"."_anon_type" = "t13"."_at"
            AND TRIM("t6"."anonymous_id", ' 	
') = "t13"."_av"
          LEFT OUTER JOIN (
            SELECT
              "t8"."id_value" AS "_dv",
              "t8"."profile_id" AS "_dp"
            FROM "t7" AS "t8"
            WHERE
              "t8"."id_type" = 'device_id'
          ) AS "t14"
            ON TRIM("t6"."context_device_id", ' 	
') = "t14"."_dv"
        ) AS "t15"
        WHERE
          COALESCE("t15"."_up", "t15"."_ap", "t15"."_dp") IS NOT NULL
      ) AS "t16"
      GROUP BY
        1
    ) AS "t17"
    WHERE
      "t17"."value" >= 2
  ) AS "t18"
) AS "t19"
